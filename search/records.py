"""The records the knowledge base stores and returns: documents, chunks, hits.

They are pydantic models so the API can serve them as they are; ``ingest``
builds the ``New*`` ones, ``search`` returns the others.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator


def valid_utf8(text: str) -> str:
    """``text`` with lone surrogates (legal in JSON and in argv, not in UTF-8) replaced."""
    return text.encode("utf-8", "replace").decode("utf-8")


class DocType(StrEnum):
    interview = "interview"
    pitch_deck = "pitch_deck"
    report = "report"
    other = "other"


class SearchMode(StrEnum):
    """How chunks are found: by meaning, by keywords (BM25), or both fused."""

    dense = "dense"
    lexical = "lexical"
    hybrid = "hybrid"


class Provenance(BaseModel):
    """Where a chunk sits in its file; every field is optional."""

    model_config = ConfigDict(frozen=True)

    page: int | None = None
    slide: int | None = None
    section: str | None = None
    speaker: str | None = None
    start_s: float | None = None
    end_s: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class DocumentMeta(BaseModel):
    """What is known about a document, from the sources ``ingest.metadata`` merges."""

    title: str
    office: str | None = None
    region: str | None = None
    team: str | None = None
    doc_type: DocType = DocType.other
    language: str | None = None
    author: str | None = None
    date: dt.date | None = None
    source_path: str
    content_hash: str


class Document(DocumentMeta):
    """A stored document: one per distinct content, listed under every path that holds it.

    ``source_path`` is the path its metadata was read from; ``paths`` are all of them.
    """

    id: int
    n_chunks: int
    ingested_at: dt.datetime
    paths: list[str] = Field(default_factory=list)


class FileStat(BaseModel):
    """A file's size and modification time: the fast check before hashing it."""

    size: int
    mtime_ns: int


class NewChunk(BaseModel):
    """A chunk about to be stored, in document order."""

    text: str
    language: str | None = None
    provenance: Provenance = Provenance()
    n_tokens: int = 0


class Chunk(NewChunk):
    """A stored chunk; its id is also its vector's id in the index."""

    id: int
    document_id: int
    ordinal: int


def _as_list(value: str | list[str] | None) -> list[str] | None:
    if value is None or isinstance(value, list):
        return value
    return [value]


FilterValue = Annotated[str, StringConstraints(max_length=100)]
MAX_FILTER_VALUES = 50


class Filters(BaseModel):
    """Metadata filters; a list means "any of these". Matching ignores case."""

    model_config = ConfigDict(extra="forbid")

    office: list[FilterValue] | None = Field(None, max_length=MAX_FILTER_VALUES,
                                             examples=[["Boston"]])
    region: list[FilterValue] | None = Field(None, max_length=MAX_FILTER_VALUES,
                                             examples=[["EU"]])
    doc_type: list[DocType] | None = Field(None, max_length=len(DocType))
    language: list[FilterValue] | None = Field(None, max_length=MAX_FILTER_VALUES,
                                               examples=[["fr"]])
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    _lists = field_validator("office", "region", "doc_type", "language", mode="before")(
        classmethod(lambda cls, v: _as_list(v))
    )

    def is_empty(self) -> bool:
        return not any(v not in (None, []) for v in self.model_dump().values())


class DocumentSummary(BaseModel):
    """The document fields a hit carries."""

    id: int
    title: str
    office: str | None
    region: str | None
    doc_type: DocType
    language: str | None
    date: dt.date | None
    source_path: str


class Hit(BaseModel):
    """One matching chunk."""

    chunk_id: int
    score: float = Field(description="Cosine (dense), BM25 (lexical), fused RRF (hybrid), "
                         "or the cross-encoder's score when one re-ranked the hit.")
    snippet: str
    highlights: list[tuple[int, int]] = Field(
        default_factory=list, description="[start, end) offsets of query terms in the snippet.")
    text: str
    language: str | None
    provenance: Provenance
    document: DocumentSummary


class DocumentHits(BaseModel):
    """Hits grouped under their document, best first."""

    document: DocumentSummary
    score: float
    hits: list[Hit]


class FileFailure(BaseModel):
    """A file a run could not index, and why."""

    path: str
    reason: str


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
    seconds: float = 0.0

    @property
    def chunks_per_second(self) -> float:
        return self.chunks_indexed / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        return (f"added {len(self.added)}, updated {len(self.updated)}, moved {len(self.moved)},"
                f" duplicates {len(self.duplicates)}, deleted {len(self.deleted)}, unchanged"
                f" {self.unchanged}, failed {len(self.failed)}; {self.chunks_indexed} chunks"
                f" indexed, {self.chunks_embedded} embedded, in {self.seconds:.1f}s")


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
