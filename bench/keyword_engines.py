"""Keyword engines side by side: SQLite FTS5's bm25() (what ranked keywords before), Tantivy
(the product's keyword index) and bm25s, on the same chunks and the same analysed terms.

    pip install -e '.[bench]'   # bm25s
    python -m bench.keyword_engines [--sizes 5000 100000] [--queries 300] [--json-out FILE]

The chunks are ``bench.query_latency_index.passages`` (SciFact abstracts cut to chunk size);
the queries are SciFact's train claims. Every engine indexes the terms the product's
``Analyzer`` gives (English stems, stop words dropped, accents folded), joined by spaces,
and splits on spaces: only the engines differ, not the analysis. Each answers the top 100
by BM25 (an OR of the query's terms), as the hybrid list needs. Per engine and size: the
time to build the index, query p50 / p99 in milliseconds (one thread, warm), and how many of
FTS5's top 10 chunk ids the engine's top 10 share (BM25 variants differ in idf and length
normalisation, so the lists are close, not equal).
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import REPO, emit, load_average, log, percentile
from bench.query_latency_index import passages
from evaluation.beir import read_texts
from search.lexical import Analyzer, KeywordIndex

DEPTH = 100
Engine = Callable[[list[str]], list[int]]  # query terms -> chunk ids, best first


def fts5(terms: list[str], folder: Path) -> Engine:
    db = sqlite3.connect(folder / "fts.db")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(terms, tokenize='unicode61')")
    db.executemany("INSERT INTO t(rowid, terms) VALUES (?, ?)", enumerate(terms))
    db.commit()

    def search(query: list[str]) -> list[int]:
        expression = " OR ".join('"' + t.replace('"', '""') + '"' for t in query)
        return [r[0] for r in db.execute("SELECT rowid FROM t WHERE t MATCH ? ORDER BY "
                                         "bm25(t) LIMIT ?", (expression, DEPTH))]
    return search


def tantivy_engine(terms: list[str], folder: Path) -> Engine:
    """The product's keyword index (``search.lexical.keyword_index``), on disk."""
    index = KeywordIndex.build(enumerate(terms), folder / "keywords")

    def search(query: list[str]) -> list[int]:
        return [i for i, _ in index.search(query, [], DEPTH)]
    return search


def bm25s_engine(terms: list[str], _folder: Path) -> Engine:
    import bm25s

    retriever = bm25s.BM25()
    retriever.index([t.split() for t in terms], show_progress=False)

    def search(query: list[str]) -> list[int]:
        known = [t for t in query if t in retriever.vocab_dict]
        if not known:
            return []
        ids, _ = retriever.retrieve([known], k=min(DEPTH, len(terms)), show_progress=False,
                                    n_threads=1)
        return [int(i) for i in ids[0]]
    return search


ENGINES = {"fts5": fts5, "tantivy": tantivy_engine, "bm25s": bm25s_engine}


def measure(size: int, queries: list[list[str]], analyzer: Analyzer) -> dict:
    texts = [text for text, _ in passages(size)]
    terms = [" ".join(analyzer.terms(text, "en")) for text in texts]
    results: dict[str, dict] = {}
    tops: dict[str, list[list[int]]] = {}
    for name, make in ENGINES.items():
        with tempfile.TemporaryDirectory(prefix=f"bridge-bench-{name}-") as folder:
            started = time.perf_counter()
            search = make(terms, Path(folder))
            built = time.perf_counter() - started
            for query in queries[:20]:  # warm
                search(query)
            seconds, top = [], []
            for query in queries:
                started = time.perf_counter()
                found = search(query)
                seconds.append(time.perf_counter() - started)
                top.append(found[:10])
            tops[name] = top
            results[name] = {"build_s": round(built, 2),
                             "p50_ms": round(1000 * percentile(seconds, 50), 2),
                             "p99_ms": round(1000 * percentile(seconds, 99), 2)}
            log(f"{size} chunks, {name}: {results[name]}")
    for name in ENGINES:
        shared = [len(set(a) & set(b)) / max(1, len(a)) for a, b in
                  zip(tops[name], tops["fts5"], strict=True) if a or b]
        results[name]["top10_shared_with_fts5"] = round(sum(shared) / max(1, len(shared)), 3)
    return {"chunks": size, **results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--sizes", type=int, nargs="+", default=[5_000, 100_000])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    analyzer = Analyzer()
    claims = list(read_texts(args.data / "scifact_train" / "queries.jsonl").values())
    queries = [q for q in (analyzer.terms(c, "en") for c in claims[: args.queries]) if q]
    emit({"queries": len(queries), "sizes": [measure(n, queries, analyzer) for n in args.sizes],
          "load_average": load_average()}, args.json_out)


if __name__ == "__main__":
    main()
