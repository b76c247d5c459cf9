"""Re-indexing cost, and search over HTTP while a re-index runs, on BEIR SciFact.

    python -m bench.reindex [--data ../shared/data/scifact_train] [--docs 5000]
        [--workdir DIR] [--clients 8] [--load-seconds 20] [--change-percent 3]
        [--json-out FILE]

1. writes the first --docs SciFact abstracts as Markdown (``# title``, then the text) under
   WORKDIR/corpus/ in 10 folders (boston/part-00..04, paris/part-05..09) and a sources file
   WORKDIR/sources.yaml listing them as two sources, "boston" and "paris" (WORKDIR defaults
   to a new temporary folder; nothing is written inside the repository;
   ``bench.reindex_corpus``);
2. full first ingest: ``api.reindex.reindex`` in process into WORKDIR/data: seconds, chunks;
3. re-indexes the unchanged corpus 3 times: median seconds, chunks embedded (should be 0)
   and that time as a share of the full ingest (goal: under ``GOAL_UNCHANGED_SHARE``);
4. appends a sentence to one document and re-indexes: chunks embedded against the file's
   chunk count (goal: only its changed chunks), seconds (steps 2-4 and their goals:
   ``bench.reindex_in_process``);
5. starts ``bridge serve`` on WORKDIR/data and runs --clients threads (one httpx client each,
   ``bench.reindex_load``) sending POST /search with SciFact claims (k=10): first for
   --load-seconds with no re-index, then while a re-index started with POST /admin/reindex
   runs (one folder moved to the other source, --change-percent of the files edited and as
   many new documents added), until GET /admin/runs/{id} says it ended. Reports requests,
   errors (non-200 or exception), malformed responses, p50/p99 latency, the run's report and
   the index generation before, during and after; then, with no load, checks that the hits of
   50 claims name files that exist, under the office of their new source folder
   (``bench.reindex_under_load``);
6. prints one JSON object with every figure (and writes it to --json-out).

The machine's load average is recorded beside each phase: other processes change the times.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from bench.common import REPO, emit, load_average, new_workdir
from bench.reindex_corpus import FOLDERS, write_corpus
from bench.reindex_in_process import in_process_runs
from bench.reindex_under_load import search_under_load
from evaluation.beir import read_texts
from ingest.sources import load_sources


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    result: dict[str, Any] = {
        "data": str(args.data), "docs": args.docs, "workdir": str(workdir),
        "folders": FOLDERS, "sources": ["boston", "paris"], "cpus": os.cpu_count(),
        "load_avg_start": load_average(),
    }
    corpus = write_corpus(args.data, args.docs, workdir)
    # a claim "quoting" a phrase that no abstract holds rightly answers nothing (README:
    # quoted words must appear as written); empty answers here mean lost rows only
    queries = [text for text in read_texts(args.data / "queries.jsonl").values()
               if '"' not in text and "\u201c" not in text]
    roots = load_sources(corpus.sources_file)
    data_dir = workdir / "data"
    data_dir.mkdir()
    edited = corpus.files[0]
    result.update(in_process_runs(corpus, roots, data_dir, edited))
    result["search_under_load"] = search_under_load(
        corpus, data_dir, queries, args.clients, args.load_seconds, args.change_percent, edited)
    result["load_avg_end"] = load_average()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared/data/scifact_train",
                        help="BEIR SciFact folder (corpus.jsonl, queries.jsonl)")
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="empty or new folder outside the repository (default: a temp dir)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--load-seconds", type=float, default=20.0,
                        help="length of the load with no re-index")
    parser.add_argument("--change-percent", type=float, default=3.0,
                        help="share of the files edited, and of new files added, before the "
                        "re-index under load")
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args()
    if args.docs < FOLDERS or args.clients < 1:
        parser.error(f"--docs must be at least {FOLDERS} and --clients at least 1")
    workdir = new_workdir(parser, args.workdir, "bridge-bench-reindex-")
    emit(run(args, workdir), args.json_out)


if __name__ == "__main__":
    main()
