"""What searches, bridges and the map return."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field, SerializationInfo, field_serializer

from search.path_names import shown
from search.records.stored import ChunkId, DocType, DocumentId, Provenance


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
