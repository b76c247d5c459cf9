"""Search latency over loopback HTTP, per search mode, on one data directory: what a client of
a real ``bridge serve`` waits for.

``measure`` starts a real ``bridge serve`` on loopback (``api.local_server.bridge_server``),
warms it up, then sends sequential ``POST /search`` requests (k=10) per mode: dense, lexical,
hybrid, and hybrid with an office filter. Modes are interleaved query by query so that
background load falls on all of them alike. Each request is timed on the client (wall time
around the HTTP call, so it includes the query's embedding, retrieval, snippets, serialisation
and loopback HTTP) and the server's own ``took_ms`` is recorded beside it, with the machine's
load average before and after, since other jobs may share its cores.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.common import index_counts, load_average, percentile

MODES: list[tuple[str, dict[str, Any]]] = [
    ("dense", {"mode": "dense"}),
    ("lexical", {"mode": "lexical"}),
    ("hybrid", {"mode": "hybrid"}),
    ("hybrid_office_filter", {"mode": "hybrid", "filters": {"office": ["Paris"]}}),
]


def latency_figures(values: list[float]) -> dict[str, float]:
    """p50/p95/p99, mean and max of timings in ms: the shape both of the benchmark's modes
    report, so that their figures read alike."""
    return {"p50": round(percentile(values, 50), 2), "p95": round(percentile(values, 95), 2),
            "p99": round(percentile(values, 99), 2), "mean": round(sum(values) / len(values), 2),
            "max": round(max(values), 2)}


def _thread_env(threads: int | None) -> dict[str, str]:
    """Environment that caps the server's torch/OpenMP threads (nothing when None)."""
    if threads is None:
        return {}
    return {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}


def measure(data_dir: Path, claims: list[str], n_queries: int, warmup: int,
            threads: int | None = None) -> dict[str, Any]:
    """Latency per mode of ``n_queries`` claims (cycled) after ``warmup`` warm-up queries, with
    the server's torch/OpenMP threads capped at ``threads``."""
    from api.local_server import bridge_server

    env = {**os.environ, "BRIDGE_DATA_DIR": str(data_dir), **_thread_env(threads)}
    started = time.perf_counter()
    client_ms: dict[str, list[float]] = defaultdict(list)
    server_ms: dict[str, list[float]] = defaultdict(list)
    n_hits: dict[str, list[int]] = defaultdict(list)
    load_before = load_average()
    with bridge_server(env) as client:
        startup_s = round(time.perf_counter() - started, 1)
        counts = index_counts(client)
        for query in claims[-warmup:]:
            for _, extra in MODES:
                client.post("/search", json={"query": query, "k": 10, **extra}).raise_for_status()
        for i in range(n_queries):
            query = claims[i % len(claims)]
            for j in range(len(MODES)):  # rotate the order so no mode always goes first
                name, extra = MODES[(i + j) % len(MODES)]
                t0 = time.perf_counter()
                response = client.post("/search", json={"query": query, "k": 10, **extra})
                elapsed = (time.perf_counter() - t0) * 1000
                response.raise_for_status()
                body = response.json()
                client_ms[name].append(elapsed)
                server_ms[name].append(body["took_ms"])
                n_hits[name].append(len(body["hits"]))
    return {
        "documents": counts["documents"], "chunks": counts["chunks"],
        "server_startup_s": startup_s, "load_avg_before": load_before,
        "load_avg_after": load_average(),
        "modes": {name: {"n": len(client_ms[name]),
                         "client_ms": latency_figures(client_ms[name]),
                         "server_took_ms": latency_figures(server_ms[name]),
                         "mean_hits": round(sum(n_hits[name]) / len(n_hits[name]), 2)}
                  for name, _ in MODES},
    }
