"""The records the knowledge base stores and returns, as pydantic models the API serves as
they are: what is stored (``stored``), what callers ask (``requests``), what searches,
bridges and the map return (``results``), and what runs did (``run_reports``)."""

from search.records.requests import (
    MAX_FILTER_VALUES,
    Filters,
    FilterValue,
    Label,
    SearchMode,
    printable,
    valid_utf8,
)
from search.records.results import (
    AlignedPassages,
    Bridge,
    BridgeMap,
    BridgeResult,
    BridgeSource,
    DocumentHits,
    DocumentSummary,
    Hit,
    NearDuplicate,
    OfficeLink,
    OfficeThemes,
    Passage,
    SharedTerm,
    Theme,
    ThemeCount,
)
from search.records.run_reports import FileFailure, Move, RunRecord, RunReport
from search.records.stored import (
    Chunk,
    ChunkId,
    DocType,
    Document,
    DocumentId,
    DocumentMeta,
    FileStat,
    NewChunk,
    Provenance,
)

__all__ = [
    "MAX_FILTER_VALUES", "AlignedPassages", "Bridge", "BridgeMap", "BridgeResult",
    "BridgeSource", "Chunk", "ChunkId", "DocType", "Document", "DocumentHits", "DocumentId",
    "DocumentMeta", "DocumentSummary", "FileFailure", "FileStat", "FilterValue", "Filters", "Hit",
    "Label", "Move", "NearDuplicate", "NewChunk", "OfficeLink", "OfficeThemes", "Passage",
    "Provenance", "RunRecord", "RunReport", "SearchMode", "SharedTerm", "Theme", "ThemeCount",
    "printable", "valid_utf8",
]
