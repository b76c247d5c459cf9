"""What the knowledge base stores: documents, their metadata and their chunks.

``ingest`` builds the ``New*`` records and ``DocumentMeta``; ``search`` returns the stored
ones. Ids are numbers inside the system and opaque tokens to API clients
(``search.public_ids``); paths are stored absolute and shown by name (``search.path_names``).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializationInfo,
    WithJsonSchema,
    field_serializer,
)

from search.path_names import shown
from search.public_ids import CHUNK, DOCUMENT, shown_id


def _public(kind: str) -> PlainSerializer:
    """Shown as an opaque token to a request's reader (``search.public_ids``); a number
    elsewhere (the command line, the knowledge base's own code)."""
    return PlainSerializer(lambda number, info: shown_id(kind, number, info.context),
                           return_type=int | str)


_TOKEN_SCHEMA = WithJsonSchema({"type": "string", "pattern": "^[dc][a-z2-9]{10}$"},
                               mode="serialization")
DocumentId = Annotated[int, _public(DOCUMENT), _TOKEN_SCHEMA]
"""A document's number, shown to API clients as an opaque token ("d...")."""
ChunkId = Annotated[int, _public(CHUNK), _TOKEN_SCHEMA]
"""A chunk's number (also its vector's id), shown to API clients as a token ("c...")."""


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
    ocr: bool | None = Field(None, description="True when (some of) the text was read by OCR "
                             "from an image: a scanned page, a picture slide.")

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

    @field_serializer("source_path")
    def _shown_source(self, path: str, info: SerializationInfo) -> str:
        return shown(path, info.context)


class Document(DocumentMeta):
    """A stored document: one per distinct content, listed under every path that holds it.

    ``source_path`` is the path its metadata was read from; ``paths`` are all of them.
    """

    id: DocumentId
    n_chunks: int
    ingested_at: dt.datetime
    paths: list[str] = Field(default_factory=list)

    @field_serializer("paths")
    def _shown_paths(self, paths: list[str], info: SerializationInfo) -> list[str]:
        return [shown(path, info.context) for path in paths]


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

    id: ChunkId
    document_id: DocumentId
    ordinal: int
