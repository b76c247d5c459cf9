"""Re-indexing in process, with no server: the full first ingest, re-indexes of the unchanged
corpus, and a re-index after one file's edit, each with the goal it should meet.

These are the costs a re-index adds on its own: an unchanged corpus should cost a small share
of the full ingest (``GOAL_UNCHANGED_SHARE``) and embed nothing, an edited file should embed
only its changed chunks. They run through ``api.reindex.reindex``, the code the CLI, the API
and the schedule run.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from api.reindex import reindex
from bench.common import load_average, scratch_knowledge_base
from bench.reindex_corpus import Corpus, append_sentence
from ingest.discovery import Root
from search.knowledge_base import KnowledgeBase
from search.records import RunReport

UNCHANGED_REPEATS = 3
GOAL_UNCHANGED_SHARE = 0.03


def in_process_runs(corpus: Corpus, roots: list[Root], data_dir: Path,
                    edited: Path) -> dict[str, Any]:
    """The full ingest into ``data_dir``, the unchanged re-indexes, then ``edited`` edited and
    re-indexed. The knowledge base is let go on return: the server loads its own."""
    kb = scratch_knowledge_base(data_dir)
    full_s, report = timed_reindex(kb, roots)
    result: dict[str, Any] = {"full_ingest": {
        "seconds": round(full_s, 1), **report_figures(report),
        "chunks_per_s": round(report.chunks_indexed / full_s, 2),
        "load_avg_after": load_average(),
    }}
    result["unchanged_reindex"] = unchanged_reindexes(kb, roots, full_s)
    result["one_file_edit"] = one_file_edit(kb, roots, corpus, edited)
    return result


def unchanged_reindexes(kb: KnowledgeBase, roots: list[Root], full_s: float) -> dict[str, Any]:
    """``UNCHANGED_REPEATS`` re-indexes of the unchanged corpus, against the full ingest's
    ``full_s`` seconds."""
    unchanged = [timed_reindex(kb, roots) for _ in range(UNCHANGED_REPEATS)]
    median_s = statistics.median(s for s, _ in unchanged)
    return {
        "runs_seconds": [round(s, 3) for s, _ in unchanged],
        "median_seconds": round(median_s, 3),
        "chunks_embedded": [r.chunks_embedded for _, r in unchanged],
        "chunks_indexed": [r.chunks_indexed for _, r in unchanged],
        "unchanged_files": [r.unchanged for _, r in unchanged],
        "share_of_full_ingest": round(median_s / full_s, 5),
        "goal_share": GOAL_UNCHANGED_SHARE,
        "meets_goal": median_s / full_s < GOAL_UNCHANGED_SHARE
        and all(r.chunks_embedded == 0 for _, r in unchanged),
    }


def one_file_edit(kb: KnowledgeBase, roots: list[Root], corpus: Corpus,
                  edited: Path) -> dict[str, Any]:
    """A sentence appended to ``edited``, then a re-index: only its changed chunks embedded."""
    chunks_before = file_chunks(kb, edited)
    append_sentence(edited, 0)
    seconds, report = timed_reindex(kb, roots)
    chunks_after = file_chunks(kb, edited)
    return {
        "file": str(edited.relative_to(corpus.root)),
        "file_chunks_before": chunks_before, "file_chunks_after": chunks_after,
        "seconds": round(seconds, 3), **report_figures(report),
        "only_changed_chunks_embedded": report.updated == [str(edited.resolve())]
        and 0 < report.chunks_embedded < max(2, chunks_after)
        and report.chunks_indexed == chunks_after,
    }


def timed_reindex(kb: KnowledgeBase, roots: list[Root]) -> tuple[float, RunReport]:
    started = time.perf_counter()
    report = reindex(kb, roots, trigger="bench")
    return time.perf_counter() - started, report


def file_chunks(kb: KnowledgeBase, path: Path) -> int:
    with kb.database.connect() as db:
        row = db.execute("SELECT d.n_chunks FROM paths p JOIN documents d ON d.id = p.document_id"
                         " WHERE p.source_path = ?", (str(path.resolve()),)).fetchone()
    return int(row[0]) if row else 0


def report_figures(report: RunReport) -> dict[str, Any]:
    return {
        "added": len(report.added), "updated": len(report.updated), "moved": len(report.moved),
        "duplicates": len(report.duplicates), "deleted": len(report.deleted),
        "unchanged": report.unchanged, "failed": len(report.failed),
        "chunks_indexed": report.chunks_indexed, "chunks_embedded": report.chunks_embedded,
        "report_seconds": report.seconds,
    }
