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
    """A stored document."""

    id: int
    n_chunks: int
    ingested_at: dt.datetime


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
    score: float
    snippet: str
    text: str
    language: str | None
    provenance: Provenance
    document: DocumentSummary


class DocumentHits(BaseModel):
    """Hits grouped under their document, best first."""

    document: DocumentSummary
    score: float
    hits: list[Hit]
