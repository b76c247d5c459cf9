"""Where the time of a hybrid search goes, in process on a built data directory: stage by
stage (language detection, query embedding, keyword BM25, FAISS, chunk fetch, fusion, snippets,
response models), then the functions that dominate (cProfile).

Run by ``bench.query_latency --profile N`` after the HTTP figures, so that a slow mode can be
traced to the stage that makes it slow. Stage timers wrap the product's own methods for the
run and unwrap them after; cProfile runs separately because it inflates Python-heavy stages.
"""

from __future__ import annotations

import cProfile
import json
import pstats
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import load_average, log, scratch_knowledge_base


class _Timers:
    """Wraps methods with timers; calls nested inside an outer timed call count in both."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._undo: list[Callable[[], None]] = []

    def wrap(self, owner: Any, attribute: str, label: str) -> None:
        original = getattr(owner, attribute, None)
        if original is None:
            log(f"  (profile: {label} not found, skipped)")
            return

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.ms[label] += (time.perf_counter() - t0) * 1000
                self.calls[label] += 1

        had = attribute in vars(owner) if hasattr(owner, "__dict__") else False
        setattr(owner, attribute, timed)
        self._undo.append(
            (lambda: setattr(owner, attribute, original)) if had else
            (lambda: delattr(owner, attribute)))

    @contextmanager
    def installed(self) -> Iterator[_Timers]:
        try:
            yield self
        finally:
            for undo in reversed(self._undo):
                undo()


def profile(data_dir: Path, claims: list[str], n: int, threads: int | None) -> dict[str, Any]:
    """Stage timings and the dominant functions of ``n`` hybrid queries, in process (k=10)."""
    import torch

    import search.retrieval as retrieval
    from api.schemas import SearchResponse
    from search.index.faiss_index import FaissIndex

    if threads is not None:
        torch.set_num_threads(threads)
    kb = scratch_knowledge_base(data_dir)
    retriever = kb.retriever
    sample = claims[:n]
    for query in claims[-5:]:
        kb.search(query, k=10, mode="hybrid")
    timers = _Timers()
    timers.wrap(kb.query_reader.detector, "detect", "language_detection")
    timers.wrap(kb.encoder, "encode_queries", "query_embedding")
    timers.wrap(kb.retriever.keywords, "search", "keyword_bm25")
    timers.wrap(FaissIndex, "search", "faiss_search")
    timers.wrap(retrieval, "chunk_languages", "chunk_languages_for_fusion")
    timers.wrap(retrieval, "fuse", "rrf_fusion")
    timers.wrap(retrieval, "chunks_by_id", "chunk_fetch")
    timers.wrap(retriever.highlighter, "query_terms", "highlight_query_terms")
    timers.wrap(retriever.highlighter, "snippet", "snippets")
    timers.wrap(retriever, "_build_hit", "hit_models_incl_snippets")
    timers.wrap(kb.live_generation, "current", "generation_check")
    total = 0.0
    serialise = 0.0
    with timers.installed():
        for query in sample:
            t0 = time.perf_counter()
            hits = kb.search(query, k=10, mode="hybrid")
            t1 = time.perf_counter()
            response = SearchResponse(query=query, mode="hybrid", k=10, offset=0, took_ms=0,
                                      hits=hits)
            # what FastAPI does with a response_model: validate, dump to JSON-able, encode
            checked = SearchResponse.model_validate(response.model_dump())
            json.dumps(checked.model_dump(mode="json")).encode()
            t2 = time.perf_counter()
            total += (t1 - t0) * 1000
            serialise += (t2 - t1) * 1000
    stages = {label: round(ms / n, 2) for label, ms in timers.ms.items()}
    stages["response_validate_and_json"] = round(serialise / n, 2)
    stages["hit_models_excl_snippets"] = round(
        stages.get("hit_models_incl_snippets", 0) - stages.get("snippets", 0), 2)
    top_level = ["generation_check", "language_detection", "query_embedding", "keyword_bm25",
                 "faiss_search", "chunk_languages_for_fusion", "rrf_fusion", "chunk_fetch",
                 "highlight_query_terms", "hit_models_incl_snippets"]
    stages["kb_search_total"] = round(total / n, 2)
    stages["other_in_kb_search"] = round(
        total / n - sum(stages.get(label, 0) for label in top_level), 2)

    profiler = cProfile.Profile()
    profiler.enable()
    for query in sample:
        kb.search(query, k=10, mode="hybrid")
    profiler.disable()
    stats = pstats.Stats(profiler)
    rows = []
    for (file, line, func), (_, ncalls, tottime, cumtime, _) in stats.stats.items():
        rows.append((tottime, cumtime, ncalls, f"{Path(file).name}:{line}({func})"))
    by_self = sorted(rows, reverse=True)[:12]
    by_cum = sorted(rows, key=lambda r: r[1], reverse=True)[:25]
    return {
        "queries": n, "chunks": kb.status()["chunks"], "load_avg": load_average(),
        "torch_threads": torch.get_num_threads(),
        "ms_per_query": dict(sorted(stages.items(), key=lambda kv: -kv[1])),
        "cprofile_self_ms_per_query": [
            {"function": f, "self_ms": round(s * 1000 / n, 2), "calls_per_query": c / n}
            for s, _, c, f in by_self],
        "cprofile_cumulative_ms_per_query": [
            {"function": f, "cum_ms": round(cum * 1000 / n, 2)} for _, cum, _, f in by_cum],
        "note": "in process, no HTTP; cProfile inflates Python-heavy stages, use ms_per_query "
                "for the split and cProfile for which function dominates",
    }
