"""Request and response models of the HTTP API (records come from ``search.records``)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator

from search.records import Chunk, Document, DocumentHits, Filters, Hit, SearchMode, valid_utf8

MAX_QUERY_CHARS = 2000
MAX_K = 100
MAX_OFFSET = 1000


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(..., min_length=1, max_length=MAX_QUERY_CHARS,
                       examples=["télésurveillance insuffisance cardiaque"])
    k: int = Field(10, ge=1, le=MAX_K, description="Results to return.")
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


class Health(BaseModel):
    status: str
    generation: int
    documents: int
    chunks: int
    model: str


class ErrorResponse(BaseModel):
    detail: str


class ReindexSchedule(BaseModel):
    cron: str | None
    next_run: dt.datetime | None


class ReindexStarted(BaseModel):
    run_id: int
    status_url: str
