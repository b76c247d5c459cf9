"""Search latency on the sample corpus, in process (query embedding, FAISS, SQLite; no HTTP):
``bench.query_latency --sample``.

corpus/ is ingested into a scratch data directory, then every planted query (English, French,
German, Spanish) runs ``repeat`` times without a filter, with its own office as the filter, and
grouped by document (``search_documents``), each with k=10. It needs no SciFact data and no
server, so it is the quick check of what a search costs on the small multilingual demo.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from bench.common import CORPUS, load_average, planted_findings, scratch_knowledge_base
from bench.query_latency_http import latency_figures
from ingest.pipeline import Ingestor
from search.records import Filters


def sample_latency(repeat: int) -> dict[str, Any]:
    """The figures of ``--sample``, with the machine's load average before and after."""
    result: dict[str, Any] = {
        "what": "KnowledgeBase.search / search_documents k=10 in process over corpus/ (no "
                "HTTP); each planted query unfiltered, filtered to its own office, grouped",
        "cpus": os.cpu_count(), "load_avg_start": load_average(),
        **sample_corpus(repeat)}
    result["load_avg_end"] = load_average()
    return result


def sample_corpus(repeat: int) -> dict[str, Any]:
    """Every planted query over corpus/, in process: unfiltered, in its own office, grouped."""
    kb = scratch_knowledge_base()
    Ingestor(kb).run([CORPUS])
    findings = planted_findings()
    queries = ([(f["query_local"], f["europe_office"]) for f in findings]
               + [(f["query_en"], "Boston") for f in findings])
    searches: dict[str, Callable[[str, str], object]] = {
        "unfiltered": lambda query, _office: kb.search(query, k=10),
        "office_filter": lambda query, office: kb.search(query, Filters(office=[office]), 10),
        "grouped": lambda query, _office: kb.search_documents(query, k=10),
    }
    kb.search("warm up", k=10)
    timings: dict[str, list[float]] = defaultdict(list)
    for _ in range(repeat):
        for query, office in queries:
            for name, search in searches.items():
                started = time.perf_counter()
                search(query, office)
                timings[name].append((time.perf_counter() - started) * 1000)
    status = kb.status()
    return {"documents": status["documents"], "chunks": status["chunks"],
            **{name: {"n": len(ms), "ms": latency_figures(ms)} for name, ms in timings.items()}}
