"""The records the knowledge base stores and returns: documents, chunks, hits.

They are pydantic models so the API can serve them as they are; ``ingest``
builds the ``New*`` ones, ``search`` returns the others.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializationInfo,
    StringConstraints,
    WithJsonSchema,
    computed_field,
    field_serializer,
    field_validator,
    model_validator,
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


def _as_list(value: str | list[str] | None) -> list[str] | None:
    if value is None or isinstance(value, list):
        return value
    return [value]


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def printable(text: str) -> str:
    """``text`` when it holds no control character (NUL, escapes, line breaks) nor a lone
    surrogate (not text in UTF-8); a name, a title or a filter value with one is refused
    rather than stored or echoed."""
    if _UNPRINTABLE.search(text):
        raise ValueError("must not contain control characters (NUL, line breaks, escapes) "
                         "or lone surrogates")
    return text


Label = Annotated[str, AfterValidator(printable), Field(json_schema_extra={
    "pattern": r"^[^\x00-\x1f\x7f-\x9f]*$"})]
"""A name, title or metadata value: printable text, one line (the pattern tells API
clients and schema-driven tools what :func:`printable` enforces; lone surrogates, which no
well-formed text holds, are refused too)."""
FilterValue = Annotated[Label, StringConstraints(max_length=100)]
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

    id: DocumentId
    title: str
    office: str | None
    region: str | None
    doc_type: DocType
    language: str | None
    date: dt.date | None
    source_path: str

    @field_serializer("source_path")
    def _shown_source(self, path: str, info: SerializationInfo) -> str:
        return shown(path, info.context)


class Hit(BaseModel):
    """One matching chunk."""

    chunk_id: ChunkId
    score: float = Field(description="Cosine (dense), BM25 (lexical), fused RRF (hybrid), "
                         "or the cross-encoder's score when one re-ranked the hit.")
    snippet: str
    highlights: list[tuple[int, int]] = Field(
        default_factory=list, description="[start, end) offsets of query terms in the snippet.")
    text: str
    language: str | None
    provenance: Provenance
    document: DocumentSummary
    also_in: list[DocumentSummary] = Field(
        default_factory=list, description="Documents holding a near-duplicate of this chunk "
        "(a copy or a translation), folded into this hit.")


class DocumentHits(BaseModel):
    """Hits grouped under their document, best first."""

    document: DocumentSummary
    score: float
    hits: list[Hit]
    also_in: list[DocumentSummary] = Field(
        default_factory=list, description="Near-duplicate documents (copies or translations) "
        "folded into this result.")


class NearDuplicate(BaseModel):
    """Another document that says nearly the same thing, in the same language or another."""

    document: DocumentSummary
    similarity: float = Field(description="Mean cosine of the matched chunk pairs.")
    coverage: float = Field(description="The smaller of the two shares of chunks that have a "
                            "near-duplicate in the other document.")
    translated: bool = Field(description="Whether the two are in different languages.")


class SharedTerm(BaseModel):
    """A term of the source passage paired with one of the target passage."""

    source: str
    target: str
    similarity: float
    exact: bool = Field(description="Spelled the same (a name, number, acronym); otherwise "
                        "paired by meaning, e.g. a translation.")


class Passage(BaseModel):
    """One side of a bridge: a chunk, or the free text a bridge started from."""

    chunk_id: ChunkId | None
    text: str
    language: str | None
    provenance: Provenance = Provenance()


class AlignedPassages(BaseModel):
    """The source passage and the target passage that align best, and why."""

    source: Passage
    target: Passage
    similarity: float = Field(description="Cosine of the two language-centred vectors.")
    score: float = Field(description="Margin score: the similarity over the mean of each "
                         "side's nearest neighbours, so a passage close to everything "
                         "ranks below one close to this source only.")
    shared_terms: list[SharedTerm] = Field(
        default_factory=list, description="Terms both passages hold: spelled alike on every "
        "pair; paired by meaning too (translations) on each bridge's best pair.")


class Bridge(BaseModel):
    """A document of another office that holds findings close to the source."""

    document: DocumentSummary
    score: float
    passages: list[AlignedPassages] = Field(description="Best first.")
    also_in: list[DocumentSummary] = Field(
        default_factory=list, description="Near-duplicates (copies, translations) in other "
        "documents, folded into this result.")


class BridgeSource(BaseModel):
    """What a bridge query started from."""

    kind: str = Field(description="document, chunk or text")
    office: str | None
    language: str | None
    document: DocumentSummary | None = None
    chunk_id: ChunkId | None = None


class BridgeResult(BaseModel):
    source: BridgeSource
    target_offices: list[str]
    bridges: list[Bridge]


class Theme(BaseModel):
    """A cluster of chunk vectors, labelled with its most telling terms per language."""

    id: int
    chunks: int
    labels: dict[str, list[str]] = Field(description="Language -> terms, most telling first.")
    offices: dict[str, int] = Field(description="Office -> its chunks in this theme.")


class ThemeCount(BaseModel):
    theme: int
    bridges: int


class OfficeLink(BaseModel):
    """How strongly two offices are connected, and on which themes."""

    offices: tuple[str, str]
    strength: float = Field(description="Share of the two offices' chunks that have a close "
                            "counterpart in the other office.")
    bridges: int = Field(description="Chunks of either office with a close counterpart.")
    themes: list[ThemeCount] = Field(description="Themes of those chunks, most first.")


class OfficeThemes(BaseModel):
    office: str
    documents: int
    chunks: int
    shared: list[int] = Field(description="Themes it covers along with another office.")
    only: list[int] = Field(description="Themes no other office covers: the gaps another "
                            "office could fill, or the knowledge only it holds.")


class BridgeMap(BaseModel):
    """Offices, the links between them, and the themes on those links."""

    generation: int
    link_similarity: float
    themes: list[Theme]
    offices: list[OfficeThemes]
    links: list[OfficeLink]


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
