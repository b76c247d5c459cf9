"""The txtai half of ``bench/txtai_side_by_side.py``: index a BEIR corpus with txtai, rank queries.

    .venv-txtai/bin/python bench/txtai_side.py --corpus DIR/corpus.jsonl \\
        --queries QUERIES.json --model MODEL_DIR --out RESULT.json [--modes dense,hybrid]
        [--threads 1]

It runs in ``.venv-txtai`` (``bash bench/txtai_env.sh``), never in the project's environment,
so it imports only txtai, torch (txtai's engine, for its thread count) and the standard
library; the project's own modules are out of reach by design. The driver starts it with the
records and queries it gave Knowledge Bridge; by hand, give it a BEIR ``corpus.jsonl`` and a
queries file of ``{"query id": "text", ...}``.

For each mode it builds a fresh ``Embeddings`` index on the same sentence-transformers folder
Knowledge Bridge uses (txtai reads it with its own transformers mean pooling, per the folder's
``1_Pooling`` config: the same vectors as Bridge's encoder, checked to cosine 1.0), with the e5
prefixes as txtai ``instructions`` ("query: " / "passage: ";
txtai then leaves the folder's own prompts unused, so nothing is prefixed twice), the FAISS
backend with an exact ``IDMap,Flat`` index (Knowledge Bridge's index is exact at this size,
while txtai's default turns to IVF past 5,000 rows and would trade recall for speed), content
storage off, and the same model batch size as the project (32). ``dense`` is that index alone;
``hybrid`` adds txtai's default keyword index (``hybrid: True``: BM25 term index, scores
normalised, convex fusion with weight 0.5), the like of Knowledge Bridge's FTS5 + RRF.

A corpus record becomes ``"title. text"`` (the text alone without a title), as txtai's own BEIR
benchmark feeds it; a record with no text at all is skipped. Timings: model loading is kept
out of the index time (it is reported apart), the index time covers ``Embeddings.index`` from
the first row to a searchable index, and each query is timed alone around
``Embeddings.search(query, depth)`` after one untimed warm-up query; each in wall time and in
this process's CPU time (txtai starts no processes, so that is all of its work).

The result file holds, per mode, the timings and every query's ranked corpus ids; the driver
scores them with the same code that scores Knowledge Bridge.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

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


def run_mode(mode: str, model: str, rows: list[tuple[str, str, None]], queries: dict[str, str],
             depth: int) -> dict[str, Any]:
    """Load, index, then rank every query one at a time; returns timings and rankings."""
    from txtai import Embeddings

    config = index_config(model, hybrid=mode == "hybrid")
    started = time.perf_counter()
    embeddings = Embeddings(config)  # loads the model
    loaded, cpu_loaded = time.perf_counter(), time.process_time()
    print(f"txtai {mode}: indexing {len(rows)} records", file=sys.stderr, flush=True)
    embeddings.index(rows)
    indexed, cpu_indexed = time.perf_counter(), time.process_time()
    embeddings.search(next(iter(queries.values())), depth)  # warm-up, untimed
    ranked: dict[str, list[str]] = {}
    latencies_ms: list[float] = []
    cpu_ms: list[float] = []
    for query_id, text in queries.items():
        t0, cpu0 = time.perf_counter(), time.process_time()
        results = embeddings.search(text, depth)
        latencies_ms.append((time.perf_counter() - t0) * 1000)
        cpu_ms.append((time.process_time() - cpu0) * 1000)
        ranked[query_id] = [str(uid) for uid, _ in results]
    embeddings.close()
    print(f"txtai {mode}: index {indexed - loaded:.1f}s, {len(queries)} queries ranked",
          file=sys.stderr, flush=True)
    return {"config": {k: v for k, v in config.items() if k not in NOT_CONFIG},
            "model_load_s": round(loaded - started, 3), "index_s": round(indexed - loaded, 3),
            "index_cpu_s": round(cpu_indexed - cpu_loaded, 1),
            "latencies_ms": latencies_ms, "cpu_ms": cpu_ms, "ranked": ranked}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True,
                        help="BEIR corpus.jsonl (_id, title, text)")
    parser.add_argument("--queries", type=Path, required=True,
                        help='JSON {"query id": "text"}: the queries to rank, in order')
    parser.add_argument("--model", required=True, help="sentence-transformers model folder")
    parser.add_argument("--out", type=Path, required=True, help="where the result JSON goes")
    parser.add_argument("--modes", default="dense,hybrid", help="dense, hybrid or both")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--depth", type=int, default=100, help="results per query")
    args = parser.parse_args()

    modes = list(dict.fromkeys(m.strip() for m in args.modes.split(",") if m.strip()))
    if not modes or set(modes) - {"dense", "hybrid"}:
        parser.error(f"--modes takes dense and/or hybrid, not {args.modes!r}")

    import torch
    from txtai.version import __version__

    torch.set_num_threads(args.threads)
    rows, skipped = corpus_rows(args.corpus)
    queries = json.loads(args.queries.read_text(encoding="utf-8"))
    result = {"txtai": __version__, "torch": torch.__version__,
              "torch_threads": torch.get_num_threads(), "documents": len(rows),
              "skipped_empty": skipped, "depth": args.depth,
              "modes": {mode: run_mode(mode, args.model, rows, queries, args.depth)
                        for mode in modes}}
    args.out.write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
