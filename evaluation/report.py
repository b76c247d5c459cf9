"""The figures of an evaluation and their table: what ``bridge eval`` prints.

Pydantic models, so that ``bridge eval --json`` is ``model_dump(mode="json")`` and a saved
report reads back with ``model_validate``.
"""

from __future__ import annotations

from pydantic import BaseModel

from search.records import SearchMode


class ModeResult(BaseModel):
    """One search mode's figures over the split's judged queries."""

    mode: SearchMode
    ndcg_at_10: float
    recall_at_100: float
    mrr_at_10: float
    p50_ms: float
    p95_ms: float
    queries: int


class EvalReport(BaseModel):
    """Everything ``bridge eval`` prints; ``model_dump(mode="json")`` is its ``--json``."""

    dataset: str
    split: str
    model: str
    documents: int  # corpus records
    chunks: int  # chunks in the scratch knowledge base
    ingest_seconds: float
    indexed_files: int  # files (re-)embedded by this run; 0 when the index was up to date
    unchanged_files: int
    embedded_chunks: int
    failed_files: list[str]  # "file (corpus id): reason", e.g. an empty record
    scratch_dir: str
    results: list[ModeResult]


def render_table(report: EvalReport) -> str:
    """A header line about the dataset and index, then one aligned row per mode."""
    head = (f"{report.dataset} [{report.split}]: {report.documents} documents, "
            f"{report.chunks} chunks, model {report.model}; ingest {report.ingest_seconds:.1f}s "
            f"({report.indexed_files} files embedded, {report.unchanged_files} unchanged"
            + (f", {len(report.failed_files)} failed" if report.failed_files else "") + ")")
    columns = ["mode", "nDCG@10", "R@100", "MRR@10", "p50 ms", "p95 ms", "queries"]
    rows = [[r.mode.value, f"{r.ndcg_at_10:.3f}", f"{r.recall_at_100:.3f}", f"{r.mrr_at_10:.3f}",
             f"{r.p50_ms:.1f}", f"{r.p95_ms:.1f}", str(r.queries)] for r in report.results]
    widths = [max(len(row[i]) for row in [columns, *rows]) for i in range(len(columns))]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                         for i, (cell, w) in enumerate(zip(cells, widths, strict=True)))

    return "\n".join([head, line(columns), *(line(row) for row in rows)])
