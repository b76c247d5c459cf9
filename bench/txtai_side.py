"""The txtai half of ``bench/txtai_side_by_side.py``: index a BEIR corpus with txtai, then rank
blocks of queries when the driver asks.

    .venv-txtai/bin/python bench/txtai_side.py --corpus DIR/corpus.jsonl --model MODEL_DIR
        [--modes dense,hybrid] [--threads 1] [--depth 100]

It runs in ``.venv-txtai`` (``bash bench/txtai_env.sh``), never in the project's environment,
so it imports only txtai, torch (txtai's engine, for its thread count) and the standard
library; the project's own modules are out of reach by design.

For each mode it builds an ``Embeddings`` index on the same sentence-transformers folder
Knowledge Bridge uses (txtai reads it with its own transformers mean pooling, per the folder's
``1_Pooling`` config: the same vectors as Bridge's encoder, checked to cosine 1.0), with the e5
prefixes as txtai ``instructions`` ("query: " / "passage: ";
txtai then leaves the folder's own prompts unused, so nothing is prefixed twice), the FAISS
backend with an exact ``IDMap,Flat`` index (Knowledge Bridge's index is exact at this size,
while txtai's default turns to IVF past 5,000 rows and would trade recall for speed), content
storage off, and the same model batch size as the project (32). ``dense`` is that index alone;
``hybrid`` adds txtai's default keyword index (``hybrid: True``: BM25 term index, scores
normalised, convex fusion with weight 0.5), the like of Knowledge Bridge's BM25 + RRF.

A corpus record becomes ``"title. text"`` (the text alone without a title), as txtai's own BEIR
benchmark feeds it; a record with no text at all is skipped. Model loading is kept out of the
index time (it is reported apart); the index time covers ``Embeddings.index`` from the first
row to a searchable index.

The protocol is JSON lines. Once every mode is indexed, one line goes out: the versions and,
per mode, its configuration, model load time and index time (wall and this process's CPU:
txtai starts no processes, so that is all of its work). Then each line read in,
``{"mode": "dense", "queries": [["query id", "text"], ...]}``, is answered by a
line with each query's wall and CPU milliseconds around ``Embeddings.search(text, depth)`` and
its ranked corpus ids; the driver alternates these blocks with its own, so a machine that slows
down meanwhile slows both sides alike. The lines go out on the original standard output;
anything a library prints lands on standard error. End of input ends the process.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

E5_INSTRUCTIONS = {"query": "query: ", "data": "passage: "}
ENCODE_BATCH = 32  # the project's embed_batch_size default
# Keys of the (expanded) configuration left out of the report: the model path the driver
# already reports, and what txtai records about the build rather than how it indexes.
NOT_CONFIG = {"path", "build", "update", "offset", "dimensions"}


def corpus_rows(path: Path) -> tuple[list[tuple[str, str, None]], int]:
    """(id, text, tags) rows for ``Embeddings.index`` and how many empty records were skipped."""
    rows: list[tuple[str, str, None]] = []
    skipped = 0
    with path.open(encoding="utf-8-sig") as lines:
        for line in lines:
            if not line.strip():
                continue
            record = json.loads(line)
            title, text = str(record.get("title") or ""), str(record.get("text") or "")
            body = f"{title}. {text}" if title else text
            if body.strip():
                rows.append((str(record["_id"]), body, None))
            else:
                skipped += 1
    return rows, skipped


def index_config(model: str, hybrid: bool) -> dict[str, Any]:
    """The ``Embeddings`` configuration of one mode (see the module docstring for why)."""
    config: dict[str, Any] = {
        "path": model,
        "instructions": E5_INSTRUCTIONS,
        "backend": "faiss",
        "faiss": {"components": "IDMap,Flat"},
        "content": False,
        "encodebatch": ENCODE_BATCH,
    }
    if hybrid:
        config["hybrid"] = True
    return config


def build(mode: str, model: str, rows: list[tuple[str, str, None]]) -> tuple[Any, dict[str, Any]]:
    """Load the model and index every row in ``mode``; the index and its build figures."""
    from txtai import Embeddings

    config = index_config(model, hybrid=mode == "hybrid")
    started = time.perf_counter()
    embeddings = Embeddings(config)  # loads the model
    loaded, cpu_loaded = time.perf_counter(), time.process_time()
    print(f"txtai {mode}: indexing {len(rows)} records", file=sys.stderr, flush=True)
    embeddings.index(rows)
    indexed, cpu_indexed = time.perf_counter(), time.process_time()
    print(f"txtai {mode}: index {indexed - loaded:.1f}s", file=sys.stderr, flush=True)
    return embeddings, {"config": {k: v for k, v in config.items() if k not in NOT_CONFIG},
                        "model_load_s": round(loaded - started, 3),
                        "index_s": round(indexed - loaded, 3),
                        "index_cpu_s": round(cpu_indexed - cpu_loaded, 1)}


def rank_block(embeddings: Any, queries: list[tuple[str, str]], depth: int) -> dict[str, Any]:
    """Each query searched alone and timed; its ranked corpus ids."""
    ranked: dict[str, list[str]] = {}
    latencies_ms: list[float] = []
    cpu_ms: list[float] = []
    for query_id, text in queries:
        t0, cpu0 = time.perf_counter(), time.process_time()
        results = embeddings.search(text, depth)
        latencies_ms.append((time.perf_counter() - t0) * 1000)
        cpu_ms.append((time.process_time() - cpu0) * 1000)
        ranked[query_id] = [str(uid) for uid, _ in results]
    return {"latencies_ms": latencies_ms, "cpu_ms": cpu_ms, "ranked": ranked}


def protocol_out() -> TextIO:
    """The original standard output, for protocol lines only; stdout itself now goes to
    stderr, so whatever txtai or transformers print cannot break a line."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True,
                        help="BEIR corpus.jsonl (_id, title, text)")
    parser.add_argument("--model", required=True, help="sentence-transformers model folder")
    parser.add_argument("--modes", default="dense,hybrid", help="dense, hybrid or both")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--depth", type=int, default=100, help="results per query")
    args = parser.parse_args()

    modes = list(dict.fromkeys(m.strip() for m in args.modes.split(",") if m.strip()))
    if not modes or set(modes) - {"dense", "hybrid"}:
        parser.error(f"--modes takes dense and/or hybrid, not {args.modes!r}")

    import torch
    from txtai.version import __version__

    out = protocol_out()
    torch.set_num_threads(args.threads)
    rows, skipped = corpus_rows(args.corpus)
    indexes: dict[str, Any] = {}
    figures: dict[str, Any] = {}
    for mode in modes:
        indexes[mode], figures[mode] = build(mode, args.model, rows)
    out.write(json.dumps({"txtai": __version__, "torch": torch.__version__,
                          "torch_threads": torch.get_num_threads(), "documents": len(rows),
                          "skipped_empty": skipped, "depth": args.depth,
                          "modes": figures}) + "\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        block = rank_block(indexes[request["mode"]], request["queries"], args.depth)
        out.write(json.dumps(block) + "\n")
        out.flush()
    for embeddings in indexes.values():
        embeddings.close()


if __name__ == "__main__":
    main()
