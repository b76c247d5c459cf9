"""Query latency: p50/p95/p99 per search mode, over HTTP at several index sizes or in process
on the sample corpus.

    python -m bench.query_latency [--sizes 5000,100000] [--real 5000] [--queries 200]
                                  [--workdir /tmp/bridge-latency] [--json-out FILE] [--profile 50]
    python -m bench.query_latency --sample [--repeat 5] [--json-out FILE]

For each size it builds (or reuses) a data directory of that many chunks under ``--workdir``
(``bench.query_latency_index``: real SciFact passages, the first ``--real`` embedded for real,
the rest noisy copies of real vectors), then times ``--queries`` real SciFact claims
(``queries.jsonl``) per search mode over loopback HTTP against a real ``bridge serve``
(``bench.query_latency_http``), each claim embedded by the server per request. The figures are
printed as one JSON object (``--json-out`` also writes it), with the load average of the
machine before and after, since other jobs may share its cores. ``--profile N`` then times N
hybrid queries in process on the largest index, stage by stage, and lists the functions that
dominate (``bench.query_latency_profile``).

``--sample`` measures the small multilingual demo instead, in process
(``bench.query_latency_sample``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from bench.common import emit, load_average, log
from bench.query_latency_http import measure
from bench.query_latency_index import SCIFACT, build
from bench.query_latency_profile import profile
from bench.query_latency_sample import sample_latency
from evaluation.beir import read_texts


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,100000",
                        help="comma-separated chunk counts (default 5000,100000)")
    parser.add_argument("--real", type=int, default=5000,
                        help="passages embedded for real; the rest get noisy copies")
    parser.add_argument("--queries", type=int, default=200, help="measured queries per mode")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--sigma", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bridge-latency"))
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also profile N hybrid queries in process on the largest size")
    parser.add_argument("--threads", type=int, default=None,
                        help="OMP_NUM_THREADS/MKL_NUM_THREADS for the server (and the profile);"
                             " default: unset, torch uses every core")
    parser.add_argument("--sample", action="store_true",
                        help="time the planted queries over corpus/ in process instead")
    parser.add_argument("--repeat", type=int, default=5,
                        help="with --sample: rounds over the planted queries")
    parser.add_argument("--json-out", type=Path)
    return parser.parse_args()


def over_http(args: argparse.Namespace) -> dict[str, Any]:
    """Every size built (or reused) and timed over HTTP, then the largest one profiled when
    ``--profile`` asks for it."""
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",")]
    args.workdir.mkdir(parents=True, exist_ok=True)
    claims = list(read_texts(SCIFACT / "queries.jsonl").values())
    result: dict[str, Any] = {
        "what": "POST /search k=10 over loopback HTTP to a real `bridge serve`; client_ms is "
                "wall time around each request (includes the query's embedding), "
                "server_took_ms the server's own took_ms",
        "data": f"real SciFact passages; the first {args.real} embedded for real, the rest "
                f"noisy copies of real vectors (sigma {args.sigma}): costs real, dense "
                "relevance beyond the real ones meaningless",
        "queries": f"SciFact claims, {args.queries} per mode, modes interleaved, "
                   f"{args.warmup} warm-up queries per mode",
        "cpus": os.cpu_count(), "server_threads": args.threads or "default (unset)",
        "load_avg_start": load_average(), "sizes": {},
    }
    for size in sizes:
        data_dir = args.workdir / f"data-{size}"
        built = build(data_dir, size, args.real, args.sigma, args.seed, args.workdir,
                      args.rebuild)
        log(f"measuring {size} chunks")
        result["sizes"][str(size)] = {"build": built,
                                      **measure(data_dir, claims, args.queries, args.warmup,
                                                args.threads)}
    largest = str(max(sizes))
    hybrid = result["sizes"][largest]["modes"]["hybrid"]["client_ms"]["p50"]
    result["goal_hybrid_p50_under_30ms_at_largest"] = {"chunks": int(largest),
                                                       "hybrid_p50_ms": hybrid,
                                                       "met": hybrid < 30}
    if args.profile:
        log(f"profiling {args.profile} hybrid queries at {largest} chunks")
        result["profile_hybrid"] = profile(args.workdir / f"data-{largest}", claims,
                                           args.profile, args.threads)
    result["load_avg_end"] = load_average()
    return result


def main() -> None:
    args = arguments()
    emit(sample_latency(args.repeat) if args.sample else over_http(args), args.json_out)


if __name__ == "__main__":
    main()
