"""Concurrent search clients for ``bench.reindex``: threads sending ``POST /search`` over HTTP,
each answer timed and checked as a client would read it.

A re-index must never make a search fail or answer something broken, so every answer is
checked (hits present, at most k, ordered by score, no chunk twice, text, source path and
document id set), not only timed; a few errors and hits are kept as samples for the report.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.common import percentile


@dataclass
class LoadStats:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    malformed: int = 0
    hits_checked: int = 0
    error_samples: list[str] = field(default_factory=list)
    hit_samples: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, message: str) -> None:
        with self.lock:
            self.errors += 1
            if len(self.error_samples) < 5:
                self.error_samples.append(message[:300])

    def summary(self, seconds: float) -> dict[str, Any]:
        ok = self.latencies_ms
        return {
            "seconds": round(seconds, 1),
            "requests": len(ok) + self.errors,
            "ok": len(ok),
            "errors": self.errors,
            "malformed": self.malformed,
            "hits_checked": self.hits_checked,
            "requests_per_s": round((len(ok) + self.errors) / seconds, 2) if seconds else 0.0,
            "p50_ms": round(percentile(ok, 50), 1) if ok else None,
            "p99_ms": round(percentile(ok, 99), 1) if ok else None,
            "max_ms": round(max(ok), 1) if ok else None,
            "error_samples": self.error_samples,
            "hit_samples": self.hit_samples,
        }


def check_response(payload: Any, k: int) -> tuple[str | None, list[dict[str, Any]]]:
    """Why a /search answer is malformed (None when it is well-formed), and its hits, read
    as a client reads them (ids are opaque tokens, paths relative to their source)."""
    hits = payload.get("hits") if isinstance(payload, dict) else None
    if not isinstance(hits, list) or not hits or len(hits) > k:
        return f"{len(hits) if isinstance(hits, list) else 'no'} hits for k={k}", []
    try:
        scores = [float(h["score"]) for h in hits]
        chunk_ids = [h["chunk_id"] for h in hits]
        complete = all(h["text"].strip() and h["document"]["source_path"]
                       and h["document"]["id"] for h in hits)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return f"invalid response: {exc!r}", []
    if scores != sorted(scores, reverse=True):
        return "hits not ordered by score", []
    if len(set(chunk_ids)) != len(hits):
        return "a chunk appears twice", []
    if not complete:
        return "a hit without text, source path or document id", []
    return None, hits


def client_loop(base_url: str, headers: dict[str, str], queries: list[str], start: int,
                stop: threading.Event,
                stats: LoadStats, sample_hits: bool) -> None:
    k = 10
    with httpx.Client(base_url=base_url, headers=headers, timeout=120) as client:
        i = start
        while not stop.is_set():
            query = queries[i % len(queries)]
            i += 1
            started = time.perf_counter()
            try:
                response = client.post("/search", json={"query": query, "k": k})
            except httpx.HTTPError as exc:
                stats.error(f"{type(exc).__name__}: {exc}")
                continue
            elapsed_ms = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                stats.error(f"HTTP {response.status_code}: {response.text}")
                continue
            try:
                problem, hits = check_response(response.json(), k)
            except ValueError as exc:
                problem, hits = f"not JSON: {exc}", []
            with stats.lock:
                stats.latencies_ms.append(elapsed_ms)
                stats.hits_checked += len(hits)
                if problem:
                    stats.malformed += 1
                    if len(stats.error_samples) < 5:
                        stats.error_samples.append(f"malformed: {problem}"[:300])
                elif sample_hits:  # the first hit of the first answer and of the last two
                    hit = hits[0]
                    stats.hit_samples.append({
                        "query": query[:100], "chunk_id": hit["chunk_id"],
                        "score": round(hit["score"], 4),
                        "source_path": hit["document"]["source_path"],
                        "office": hit["document"].get("office"),
                        "snippet": hit["snippet"][:120],
                    })
                    del stats.hit_samples[1:-2]


@contextmanager
def load(base_url: str, headers: dict[str, str], queries: list[str], clients: int,
         stats: LoadStats, sample_hits: bool = False) -> Iterator[None]:
    """``clients`` threads searching until the block ends."""
    stop = threading.Event()
    threads = [threading.Thread(target=client_loop, daemon=True, name=f"client-{n}",
                                args=(base_url, headers, queries,
                                      n * len(queries) // clients, stop,
                                      stats, sample_hits))
               for n in range(clients)]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=180)
