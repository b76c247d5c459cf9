"""Ingest throughput against the model's raw encode speed on the same chunks.

    python -m bench.ingest_throughput [FOLDER] [--workers N]   (default: corpus/)

1. prepares the chunks once (parse, metadata, chunk) to learn the texts;
2. times the raw encoder on exactly those texts (the ceiling);
3. times a full ``bridge ingest`` of the folder into a fresh data directory, with
   ``--workers`` preparing processes (default: the setting's, 0: in process);
4. prints both in chunks/s and their ratio (the issue's goal: >= 0.9).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench.common import CORPUS, chunk_texts, emit, scratch_knowledge_base
from ingest.engines import LocalEngine
from ingest.pipeline import Ingestor
from search.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=CORPUS)
    parser.add_argument("--workers", type=int, default=Settings().ingest_workers,
                        help="Preparing processes (BRIDGE_INGEST_WORKERS; 0, the default: "
                             "in process).")
    args = parser.parse_args()

    kb = scratch_knowledge_base()
    texts = chunk_texts(kb, args.folder)
    kb.encoder.encode_documents(texts[:8])  # warm-up

    started = time.perf_counter()
    kb.encoder.encode_documents(texts)
    encode_s = time.perf_counter() - started

    ingestor = Ingestor(scratch_knowledge_base(ingest_workers=args.workers))
    engine = ingestor.engine
    assert isinstance(engine, LocalEngine)
    report = Ingestor(ingestor.kb).run([args.folder])
    tokens = sum(kb.encoder.count_tokens(t) for t in texts)
    result = {
        "folder": str(args.folder),
        "preparing_workers": engine.workers,
        "embedding_group_chunks": engine.group_chunks,
        "files_indexed": len(report.added),
        "files_failed": len(report.failed),
        "chunks": len(texts),
        "mean_tokens_per_chunk": round(tokens / max(1, len(texts)), 1),
        "raw_encode_chunks_per_s": round(len(texts) / encode_s, 2),
        "ingest_chunks_per_s": round(report.chunks_per_second, 2),
        "ingest_seconds": round(report.seconds, 1),
        "ratio_ingest_to_raw_encode": round(report.chunks_per_second / (len(texts) / encode_s), 3),
    }
    emit(result, None)


if __name__ == "__main__":
    main()
