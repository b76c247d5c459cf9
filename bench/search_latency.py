"""Search latency over the sample corpus, in process (encode + FAISS + SQLite).

    python -m bench.search_latency [--repeat N]

Ingests corpus/ into a scratch data directory, then runs every planted query
(English, French, German, Spanish) with and without an office filter and
prints p50/p95/max in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import time

import yaml

from bench.common import CORPUS, percentile, scratch_knowledge_base
from ingest.pipeline import Ingestor
from search.records import Filters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    kb = scratch_knowledge_base()
    Ingestor(kb).run([CORPUS])
    planted = yaml.safe_load((CORPUS / "planted.yaml").read_text(encoding="utf-8"))
    queries = [(f["query_local"], f["europe_office"]) for f in planted]
    queries += [(f["query_en"], "Boston") for f in planted]
    kb.search("warm up", k=10)

    timings = {"unfiltered": [], "office_filter": [], "grouped": []}
    for _ in range(args.repeat):
        for query, office in queries:
            for name, run in (
                ("unfiltered", lambda q=query: kb.search(q, k=10)),
                ("office_filter", lambda q=query, o=office: kb.search(q, Filters(office=[o]), 10)),
                ("grouped", lambda q=query: kb.search_documents(q, k=10)),
            ):
                started = time.perf_counter()
                run()
                timings[name].append((time.perf_counter() - started) * 1000)
    status = kb.status()
    print(json.dumps({
        "documents": status["documents"], "chunks": status["chunks"],
        **{name: {"n": len(v), "p50_ms": round(percentile(v, 50), 1),
                  "p95_ms": round(percentile(v, 95), 1), "max_ms": round(max(v), 1)}
           for name, v in timings.items()},
    }, indent=2))


if __name__ == "__main__":
    main()
