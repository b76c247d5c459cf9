"""Request and response models of the HTTP API (records come from ``search.records``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from search.bridges import BridgeQuery
from search.public_ids import CHUNK, DOCUMENT, stored_id
from search.records import (
    Chunk,
    Document,
    DocumentHits,
    DocumentId,
    Filters,
    FilterValue,
    Hit,
    NearDuplicate,
    SearchMode,
    valid_utf8,
)

MAX_OFFSET = 1000
MAX_ID = 2**62
PublicId = Annotated[str | int, Field(description="An id as the API gives it (a token).")]
# SQLite integers are 64-bit: every id and offset a client sends is bounded below that.
MAX_LISTING_OFFSET = 1_000_000
# Queries and findings are at most the server's max_query_chars long (api.request_limits).
FindingText = Annotated[str, Field(min_length=1)]


def whole_number(text: str, low: int, high: int) -> int | None:
    """``text`` as a whole number from ``low`` to ``high``; None for anything else ("²",
    "-1", or 4,301 digits, which Python refuses to convert at all)."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(high)):
        return None
    value = int(text)
    return value if low <= value <= high else None


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(..., min_length=1, description="At most the server's max_query_chars "
                       "characters.",
                       examples=["télésurveillance insuffisance cardiaque"])
    k: Annotated[int, Field(ge=1)] | SkipJsonSchema[None] = Field(
        None, description="Results to return: at most the server's max_k; default: its "
        "default_k.")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Results to skip (paging).")
    filters: Filters = Field(default_factory=Filters)
    mode: SearchMode | None = Field(
        None, description="dense (meaning), lexical (BM25 keywords) or hybrid (both fused); "
        "default: the server's search_mode, hybrid unless configured.")
    group_by_document: bool = Field(
        False, description="Return documents with their matching chunks instead of chunks.")

    _utf8 = field_validator("query", mode="before")(
        classmethod(lambda cls, v: valid_utf8(v) if isinstance(v, str) else v))


class SearchResponse(BaseModel):
    query: str
    mode: SearchMode
    k: int
    offset: int
    took_ms: float
    hits: list[Hit] = Field(default_factory=list, description="Chunk hits (ungrouped search).")
    documents: list[DocumentHits] = Field(
        default_factory=list, description="Document groups (group_by_document=true).")


class DocumentPage(BaseModel):
    total: int
    limit: int
    offset: int
    documents: list[Document]


class DocumentDetail(BaseModel):
    document: Document
    chunks: list[Chunk]
    near_duplicates: list[NearDuplicate] = Field(
        default_factory=list, description="Copies and translations of this document.")


class JobFile(BaseModel):
    """What became of one uploaded file."""

    filename: str = Field(description="The name the client gave (its last component).")
    status: str = Field(description="queued or running while its job waits or works; then "
                        "added, duplicate (its office already held the content: this is its "
                        "document) or failed")
    document_id: DocumentId | None = None
    error: str | None = None


class JobRecord(BaseModel):
    """An upload job: its files are stored; it ingests them in the background."""

    id: str
    status: str = Field(description="queued, running, finished or failed")
    files: list[JobFile]
    error: str | None = None
    created_at: dt.datetime
    finished_at: dt.datetime | None = None


class UploadAccepted(BaseModel):
    """The answer to an upload: its files are stored and queued; follow ``status_url``."""

    job_id: str
    status_url: str
    files: list[JobFile]


class DeletedDocument(BaseModel):
    id: DocumentId
    paths: list[str] = Field(description="The paths the document was stored under. A path in "
                             "a configured source comes back at the next re-index unless its "
                             "file is removed there too.")


class FindingSource(BaseModel):
    """A finding named by exactly one of document_id, chunk_id and text, with its office:
    where a bridge starts, or what a watch watches."""

    # exactly one source, said in the schema too (null is not a value here)
    model_config = ConfigDict(extra="forbid", json_schema_extra={"oneOf": [
        {"required": ["document_id"]}, {"required": ["chunk_id"]}, {"required": ["text"]}]})

    document_id: PublicId | SkipJsonSchema[None] = Field(
        None, description="A document (its id as the API gives it).")
    chunk_id: PublicId | SkipJsonSchema[None] = Field(
        None, description="One finding (a chunk's id as the API gives it).")
    text: FindingText | SkipJsonSchema[None] = Field(
        None, description="A finding written here (at most the server's max_query_chars "
        "characters).", examples=["Un suivi du poids quotidien réduit les réhospitalisations"])
    office: FilterValue | None = Field(
        None, description="The finding's office (a document's or chunk's own office wins).",
        examples=["Paris"])
    target_offices: list[FilterValue] = Field(
        default_factory=list, max_length=50,
        description="Offices to look in (default: every other office).", examples=[["Boston"]])

    _utf8 = field_validator("text", mode="before")(
        classmethod(lambda cls, v: valid_utf8(v) if isinstance(v, str) else v))

    @model_validator(mode="after")
    def _one_source(self) -> FindingSource:
        given = [f for f in ("document_id", "chunk_id", "text") if getattr(self, f) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of document_id, chunk_id or text"
                             + (f" (got {', '.join(given)})" if given else ""))
        return self

    def stored_ids(self) -> tuple[int | None, int | None]:
        """The document and chunk ids as stored; an id that names nothing asks for number
        0, which is nothing (404)."""
        document = None if self.document_id is None else \
            stored_id(DOCUMENT, self.document_id) or 0
        chunk = None if self.chunk_id is None else stored_id(CHUNK, self.chunk_id) or 0
        return document, chunk


class BridgeRequest(FindingSource):
    """Where a bridge starts (exactly one of document_id, chunk_id, text) and may go."""

    k: int = Field(10, ge=1, le=50, description="Documents to return.")
    passages: int = Field(3, ge=1, le=10, description="Aligned passages per document.")

    def to_query(self, visible_offices: frozenset[str] | None = None) -> BridgeQuery:
        document, chunk = self.stored_ids()
        return BridgeQuery(document_id=document, chunk_id=chunk,
                           text=self.text, office=self.office,
                           target_offices=tuple(self.target_offices), k=self.k,
                           passages=self.passages, visible_offices=visible_offices)


class Health(BaseModel):
    """Liveness, open to all: no count of what is stored (a key limited to offices may not
    learn the others' size); ``/metrics`` has the counts."""

    status: str
    generation: int
    model: str


class ErrorResponse(BaseModel):
    detail: str


class ReindexSchedule(BaseModel):
    cron: str | None
    next_run: dt.datetime | None


class ReindexStarted(BaseModel):
    run_id: int
    status_url: str
