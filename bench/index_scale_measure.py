"""What ``bench.index_scale`` measures of one index type: build time, bytes per vector, memory
growth, recall@10 and single-query latency per search setting, and whether it removes ids.

Build time covers train + add with the configured OpenMP threads. Bytes per vector is the
``faiss.serialize_index`` size / N, i.e. what the index file and its RAM image hold, ids
included; the process's RSS growth while building is recorded beside it (allocator noise
included). Per search setting: recall@10 against exact search on the same queries (batched),
and p50/p99 latency of single queries (one at a time, k=10) with 1 thread and with the
configured threads, since the server answers one query at a time. Last, each index is asked to
``remove_ids`` ``REMOVE_N`` of its ids, since the writer deletes chunks by id and an index that
cannot do that cannot back incremental re-indexing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from bench.common import log, percentile
from bench.index_scale_types import IndexType

K = 10
RECALL_GOAL = 0.95
REMOVE_N = 1000


def rss_bytes() -> int:
    """Resident set size of this process now (Linux /proc; 0 elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@contextmanager
def threads(n: int) -> Iterator[None]:
    """FAISS's OpenMP threads set to ``n`` for the block, restored after."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)



def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of the exact top k found in the approximate top k."""
    hits = sum(len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, truth, strict=True))
    return hits / truth.size


def single_query_ms(index: faiss.Index, queries: np.ndarray, n_threads: int) -> dict[str, float]:
    """p50/p99/mean of one-at-a-time searches (k=10) with ``n_threads`` OpenMP threads."""
    times: list[float] = []
    with threads(n_threads):
        for row in queries[:5]:  # warm-up
            index.search(row[None, :], K)
        for row in queries:
            t0 = time.perf_counter()
            index.search(row[None, :], K)
            times.append((time.perf_counter() - t0) * 1000)
    return {"p50": round(percentile(times, 50), 3), "p99": round(percentile(times, 99), 3),
            "mean": round(sum(times) / len(times), 3), "n": len(times)}


def removal(index: faiss.Index, ids: np.ndarray) -> dict[str, Any]:
    """Whether ``remove_ids`` works on this index, and how long 1,000 removals take."""
    before = index.ntotal
    t0 = time.perf_counter()
    try:
        removed = index.remove_ids(ids)
    except RuntimeError as error:
        return {"supported": False, "error": str(error).strip().splitlines()[-1][:200]}
    return {"supported": True, "removed": int(removed), "ntotal_before": int(before),
            "ntotal_after": int(index.ntotal),
            "ms": round((time.perf_counter() - t0) * 1000, 1)}


def measure_type(kind: IndexType, vectors: np.ndarray, queries: dict[str, np.ndarray],
                 truth: dict[str, np.ndarray], n_latency: int,
                 configured: int) -> dict[str, Any]:
    """Build one index type, then sweep its knob: recall per setting, and the latency of
    ``n_latency`` single held-out queries."""
    ids = np.arange(len(vectors), dtype=np.int64)
    rss_before = rss_bytes()
    t0 = time.perf_counter()
    index = kind.build(vectors, ids)
    build_s = time.perf_counter() - t0
    rss_after = rss_bytes()
    serialised = int(faiss.serialize_index(index).size)
    log(f"  {kind.name}: built in {build_s:.1f}s, {serialised / len(vectors):.1f} bytes/vector")
    latency_queries = queries["held_out"][:n_latency]
    settings = []
    for value in kind.values:
        if value is not None:
            kind.set_knob(index, value)
        row: dict[str, Any] = {kind.knob: value}
        for group, q in queries.items():
            _, found = index.search(q, K)
            row[f"recall@10_{group}"] = round(recall_at_k(found, truth[group]), 4)
        row["latency_ms_1_thread"] = single_query_ms(index, latency_queries, 1)
        row[f"latency_ms_{configured}_threads"] = single_query_ms(index, latency_queries,
                                                                   configured)
        settings.append(row)
        log(f"    {kind.knob}={value}: recall@10 {row['recall@10_held_out']:.3f} "
            f"(real queries {row['recall@10_real']:.3f}), p50 "
            f"{row['latency_ms_1_thread']['p50']:.2f} ms")
    first = next((r[kind.knob] for r in settings if r["recall@10_held_out"] >= RECALL_GOAL
                  and r["recall@10_real"] >= RECALL_GOAL), None)
    rng = np.random.default_rng(2)
    result = {
        "index": kind.description, "build_s": round(build_s, 1),
        "bytes_per_vector_serialised": round(serialised / len(vectors), 1),
        "serialised_mb": round(serialised / 2**20, 1),
        "rss_growth_bytes_per_vector": round((rss_after - rss_before) / len(vectors), 1),
        "settings": settings,
        "first_setting_recall_ge_0.95": f"{kind.knob}={first}" if first else (
            "exact" if kind.name == "flat" else "none swept"),
        "remove_ids": removal(index, rng.choice(ids, min(REMOVE_N, len(ids)), replace=False)),
    }
    del index
    return result


def exact_neighbours(vectors: np.ndarray, queries: dict[str, np.ndarray]) -> dict[str, Any]:
    """The exact top 10 of every query (batched flat search), the reference for recall."""
    reference = faiss.IndexFlatIP(vectors.shape[1])
    reference.add(vectors)
    return {group: reference.search(q, K)[1] for group, q in queries.items()}
