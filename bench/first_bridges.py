"""A document's first bridges: how long ``KnowledgeBase.bridges`` takes for documents nobody
asked about before, in a process that has answered nothing yet.

    python -m bench.first_bridges [--folder corpus/] [--data-dir DIR] [--documents N]
        [--json-out FILE]

1. ingests ``--folder`` (default: the sample corpus) into ``--data-dir`` (default: a new
   temporary folder; an already ingested one is only brought up to date);
2. in the same process, opens the knowledge base afresh and warms it up as a server does
   at start (``KnowledgeBase.prepare``: the model, the query session, the bridge margins
   computed ahead; timed), then asks each document's bridges once (k=10, 3 passages; the
   first ``--documents`` of them) and times each call;
3. prints p50, p95 and the slowest call, the load average, and how many words "why it
   matched" found stored (``search.word_vectors``) against those it had to embed.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from bench.common import (
    CORPUS,
    emit,
    load_average,
    log,
    new_workdir,
    percentile,
    scratch_knowledge_base,
)
from search.bridges import BridgeQuery


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=CORPUS)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--documents", type=int, help="ask this many documents (default: all)")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    data_dir = args.data_dir or new_workdir(parser, None, "bridge-bench-bridges-")
    data_dir.mkdir(parents=True, exist_ok=True)

    from ingest.pipeline import Ingestor

    started = time.perf_counter()
    report = Ingestor(scratch_knowledge_base(data_dir)).run([args.folder])
    log(f"ingested {args.folder} in {time.perf_counter() - started:.1f}s "
        f"({report.chunks_embedded} chunks embedded, the new words of a publish with them)")

    kb = scratch_knowledge_base(data_dir)
    started = time.perf_counter()
    kb.prepare()  # as a server does at start, in the background
    warm_up = time.perf_counter() - started
    documents, _ = kb.documents(limit=10_000)
    embedded = 0
    encode = kb.encoder.encode_queries

    def counting(texts: list[str]) -> np.ndarray:
        nonlocal embedded
        embedded += len(texts)
        return encode(texts)

    kb.encoder.encode_queries = counting  # counts the words "why it matched" embeds now
    seconds = []
    for document in documents[: args.documents]:
        started = time.perf_counter()
        kb.bridges(BridgeQuery(document_id=document.id))
        seconds.append(time.perf_counter() - started)
    emit({
        "documents": len(seconds),
        "chunks": kb.status()["chunks"],
        "p50_ms": round(1000 * percentile(seconds, 50), 1),
        "p95_ms": round(1000 * percentile(seconds, 95), 1),
        "max_ms": round(1000 * max(seconds), 1),
        "words_embedded_at_request": embedded,
        "warm_up_s": round(warm_up, 1),
        "load_average": load_average(),
    }, args.json_out)


if __name__ == "__main__":
    main()
