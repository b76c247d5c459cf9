"""What an ingest or re-index run did, file by file, and how the database keeps the run."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field, computed_field, model_validator


class FileFailure(BaseModel):
    """A file a run could not index, and why: ``kind`` groups failures ("empty", "needs
    OCR", "malformed PDF"), ``reason`` is the kind with this file's detail."""

    path: str
    reason: str
    kind: str = ""

    @model_validator(mode="after")
    def _kind_from_reason(self) -> FileFailure:
        if not self.kind:  # a report stored without kinds
            self.kind = self.reason.split(":", 1)[0]
        return self

    @classmethod
    def of(cls, path: str, kind: str, detail: str | None = None) -> FileFailure:
        return cls(path=path, kind=kind, reason=f"{kind}: {detail}" if detail else kind)


class Move(BaseModel):
    """A file whose content now lives at another path; its chunks and vectors stayed."""

    from_path: str
    to_path: str


class RunReport(BaseModel):
    """What one ingest or re-index run changed, file by file."""

    added: list[str] = Field(default_factory=list, description="New paths with new content.")
    updated: list[str] = Field(default_factory=list, description="Paths whose content changed.")
    moved: list[Move] = Field(default_factory=list)
    duplicates: list[str] = Field(
        default_factory=list, description="New paths whose content was already stored.")
    deleted: list[str] = Field(default_factory=list, description="Paths gone from disk.")
    unchanged: int = 0
    failed: list[FileFailure] = Field(default_factory=list)
    chunks_indexed: int = Field(0, description="New chunks stored.")
    chunks_embedded: int = Field(0, description="Chunks the model had to embed (cache misses).")
    ocr_images: int = Field(0, description="Pages and pictures read by OCR.")
    ocr_seconds: float = Field(0.0, description="Time OCR took, in seconds.")
    seconds: float = 0.0

    @computed_field(description="The failed files grouped by kind of failure.")  # type: ignore[prop-decorator]
    @property
    def failures_by_kind(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for failure in self.failed:
            groups.setdefault(failure.kind, []).append(failure.path)
        return groups

    @property
    def chunks_per_second(self) -> float:
        return self.chunks_indexed / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        ocr = (f"; OCR read {self.ocr_images} images in {self.ocr_seconds:.1f}s"
               if self.ocr_images else "")
        return (f"added {len(self.added)}, updated {len(self.updated)}, moved {len(self.moved)},"
                f" duplicates {len(self.duplicates)}, deleted {len(self.deleted)}, unchanged"
                f" {self.unchanged}, failed {len(self.failed)}; {self.chunks_indexed} chunks"
                f" indexed, {self.chunks_embedded} embedded, in {self.seconds:.1f}s{ocr}")


class RunRecord(BaseModel):
    """A run as the database keeps it: who started it, its progress, and its report."""

    id: int
    kind: str = Field(description="ingest or reindex")
    trigger: str = Field(description="cli, api or schedule")
    status: str = Field(description="running, finished, failed or interrupted")
    pid: int | None
    started_at: dt.datetime
    finished_at: dt.datetime | None
    files_total: int | None
    files_done: int
    report: RunReport | None
    error: str | None
