"""Vector index types at scale: build time, bytes per vector, recall@10 and single-query latency.

    OMP_NUM_THREADS=2 python -m bench.index_scale [--vectors 1000000]
        [--base-data ../shared/data/scifact_train] [--base-docs 3000] [--queries 1000]
        [--latency-queries 1000] [--flat-latency-queries 100] [--workdir /tmp/bridge-index-scale]
        [--seed 7] [--json-out FILE]

Each index type (``bench.index_scale_types``: today's exact flat index, HNSW, IVF-SQ8) is built
on the same ``--vectors`` unit vectors (384-dim, inner product) and measured
(``bench.index_scale_measure``): build time, bytes per vector, recall@10 against exact search
and single-query latency per search setting, and whether it can remove ids. Flat latency uses
only ``--flat-latency-queries`` queries (each one scans every vector). The vectors are real
chunk and query embeddings plus noisy copies of them up to ``--vectors``
(``bench.index_scale_vectors``, which says what is real and what is synthetic).

The figures are printed as a table (stderr) and one JSON object (stdout; ``--json-out`` also
writes it), with the machine's load average, since other jobs may share its cores.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import faiss

from bench.common import emit, load_average, log
from bench.index_scale_measure import RECALL_GOAL, exact_neighbours, measure_type
from bench.index_scale_types import index_types
from bench.index_scale_vectors import COSINE_RANGE, base_and_queries, dataset


def table(result: dict[str, Any], configured: int) -> str:
    """A plain-text table: one line per index type and search setting."""
    head = (f"{'index':<8} {'setting':<13} {'build s':>8} {'B/vec':>7} {'rec@10':>7} "
            f"{'rec real':>8} {'p50/p99 ms 1t':>15} {f'p50/p99 ms {configured}t':>15} "
            f"{'remove_ids':>10}")
    lines = [head, "-" * len(head)]
    for name, entry in result["types"].items():
        for row in entry["settings"]:
            knob = next(iter(row))
            one, many = row["latency_ms_1_thread"], row[f"latency_ms_{configured}_threads"]
            lines.append(
                f"{name:<8} {(f'{knob}={row[knob]}' if row[knob] else 'exact'):<13} "
                f"{entry['build_s']:>8.1f} {entry['bytes_per_vector_serialised']:>7.0f} "
                f"{row['recall@10_held_out']:>7.3f} {row['recall@10_real']:>8.3f} "
                f"{one['p50']:>7.2f}/{one['p99']:<7.2f} {many['p50']:>7.2f}/{many['p99']:<7.2f} "
                f"{'yes' if entry['remove_ids']['supported'] else 'no':>10}")
    lines.append(f"first setting with recall@10 >= {RECALL_GOAL} (held-out and real queries): "
                 + "; ".join(f"{name} {entry['first_setting_recall_ge_0.95']}"
                             for name, entry in result["types"].items()))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--base-data", type=Path, default=None,
                        help="a BEIR folder (corpus.jsonl) read in place, e.g. "
                             "../shared/data/scifact_train")
    parser.add_argument("--base-docs", type=int, default=3000,
                        help="abstracts of --base-data embedded for the base (~13/s)")
    parser.add_argument("--queries", type=int, default=1000, help="held-out noisy queries")
    parser.add_argument("--latency-queries", type=int, default=1000,
                        help="single queries timed per setting (held-out ones)")
    parser.add_argument("--flat-latency-queries", type=int, default=100,
                        help="single queries timed on the flat index (each scans all vectors)")
    parser.add_argument("--types", default="flat,hnsw,ivf_sq8")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bridge-index-scale"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    started = time.perf_counter()
    configured = faiss.omp_get_max_threads()
    load_start = load_average()
    base, real, base_meta = base_and_queries(args.base_data, args.base_docs, args.workdir)
    vectors, held_out, mean_cos = dataset(base, args.vectors, args.queries, args.seed)
    queries = {"held_out": held_out, "real": real}
    log(f"{len(vectors)} vectors from {len(base)} real ones (copies' mean cosine with their "
        f"nearest base vector {mean_cos:.3f}); {len(held_out)} held-out + {len(real)} real "
        f"queries; {configured} threads")
    t0 = time.perf_counter()
    truth = exact_neighbours(vectors, queries)
    exact_s = time.perf_counter() - t0
    result: dict[str, Any] = {
        "what": "FAISS index types on the same unit vectors (inner product, k=10): build time, "
                "serialised bytes per vector, recall@10 against exact search, single-query "
                "latency with 1 and the configured OpenMP threads, remove_ids support",
        "vectors": len(vectors), "dimension": int(vectors.shape[1]),
        "base": {**base_meta, "vectors": len(base)},
        "synthetic": f"noisy copies, cosine with source ~U{COSINE_RANGE}, seed {args.seed}; "
                     f"measured mean cosine with nearest base vector {mean_cos:.3f}",
        "queries": {"held_out": len(held_out), "real": len(real)},
        "exact_batch_search_s": round(exact_s, 1),
        "threads_configured": configured, "cpus": os.cpu_count(), "faiss": faiss.__version__,
        "load_avg_start": load_start, "types": {},
    }
    wanted = args.types.split(",")
    for kind in index_types(len(vectors)):
        if kind.name in wanted:
            log(f"measuring {kind.name}")
            n_latency = (args.flat_latency_queries if kind.name == "flat"
                         else args.latency_queries)
            result["types"][kind.name] = measure_type(kind, vectors, queries, truth, n_latency,
                                                      configured)
    result["load_avg_end"] = load_average()
    result["run_s"] = round(time.perf_counter() - started, 1)
    log(table(result, configured))
    emit(result, args.json_out)


if __name__ == "__main__":
    main()
