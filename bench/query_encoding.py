"""One query's embedding: ONNX Runtime with int8 and float32 weights against torch.

    python -m bench.query_encoding [--threads 1] [--queries 200] [--block 25]
        [--dataset ../shared/data/scifact_train --split train] [--json-out FILE]

The three encoders load the same model in this process; each query is embedded alone, as a
search embeds it, in blocks that rotate between the runtimes (so a slow spell of a shared
machine falls on each). Prints the p50/p99 of each, their ratios to torch, the largest
difference between the float32 graph's vector and torch's, and the smallest cosine between the
int8 graph's and torch's. The queries are the planted ones of
``corpus/`` (every language the demo has), or a BEIR set's with ``--dataset``.
"""

from __future__ import annotations

import argparse
import time
from itertools import islice
from pathlib import Path

import numpy as np

from bench.common import CORPUS, emit, encoder, planted_queries
from search.embedding import Encoder
from search.settings import Settings


def timed(encoders: dict[str, Encoder], queries: list[str], block: int
          ) -> dict[str, list[float]]:
    """Milliseconds per query for each runtime, blocks rotating (A B C, B C A, ...)."""
    times: dict[str, list[float]] = {name: [] for name in encoders}
    names = list(encoders)
    for n, start in enumerate(range(0, len(queries), block)):
        order = names[n % len(names):] + names[:n % len(names)]
        for name in order:
            for text in queries[start:start + block]:
                started = time.perf_counter()
                encoders[name].encode_query(text)
                times[name].append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch / ONNX Runtime threads")
    parser.add_argument("--queries", type=int, default=200, help="queries timed (cycled)")
    parser.add_argument("--block", type=int, default=25)
    parser.add_argument("--dataset", type=Path, help="a BEIR folder (default: corpus/ queries)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    if args.dataset:
        from evaluation.beir import load_dataset

        pool = list(load_dataset(args.dataset, args.split).queries.values())
    else:
        pool = planted_queries()
    queries = list(islice((pool * (args.queries // len(pool) + 1)), args.queries))
    settings = Settings(torch_threads=args.threads)
    encoders = {runtime: encoder(settings.model_copy(update={"query_runtime": runtime}))
                for runtime in ("onnx-int8", "onnx", "torch")}
    for runtime, one in encoders.items():
        one.prepare_queries()
        one.encode_query("warm up")
        assert one.query_runtime == runtime, f"{runtime} queries fell back to {one.query_runtime}"
    vectors = {name: np.vstack([one.encode_query(q) for q in queries[:50]])
               for name, one in encoders.items()}
    difference = float(np.abs(vectors["onnx"] - vectors["torch"]).max())
    int8_cosine = float((vectors["onnx-int8"] * vectors["torch"]).sum(axis=1).min())
    times = timed(encoders, queries, args.block)
    figures = {name: {"p50_ms": round(float(np.percentile(t, 50)), 2),
                      "p99_ms": round(float(np.percentile(t, 99)), 2)}
               for name, t in times.items()}
    emit({"what": "one query embedded alone, blocks rotating between runtimes",
          "model": settings.model, "threads": args.threads, "queries": len(queries),
          "source": str(args.dataset or CORPUS / "planted.yaml"), **figures,
          **{f"p50_ratio_{name}_over_torch": round(figures[name]["p50_ms"]
                                                   / figures["torch"]["p50_ms"], 3)
             for name in ("onnx-int8", "onnx")},
          "onnx_max_abs_difference": difference, "onnx_int8_min_cosine": int8_cosine},
         args.json_out)


if __name__ == "__main__":
    main()
