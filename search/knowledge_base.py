"""The knowledge base: one data directory's database, index generations and model, wired.

This is the entry point the API, ingest and evaluation use. Each method opens what it
reads (a connection, or a snapshot that a whole query reads through) and hands the work
to the module that does it: ``search.writer`` publishes, ``search.retrieval`` and
``search.document_ranking`` answer searches, ``search.bridges`` and ``search.bridge_map``
answer bridges and maps, ``search.generations`` keeps the live index.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from search import duplicates
from search.bridge_map import BridgeMaps
from search.bridges import BridgeQuery, Bridger
from search.document_ranking import DocumentRanker, RankedDocument
from search.embedding import Encoder
from search.generations import Generation, GenerationFiles, LiveGeneration
from search.language import LanguageDetector
from search.model_guard import check_backend, check_model
from search.queries import Query, QueryReader
from search.records import (
    BridgeMap,
    BridgeResult,
    Chunk,
    Document,
    DocumentHits,
    Filters,
    Hit,
    NearDuplicate,
    SearchMode,
)
from search.retrieval import Retriever
from search.settings import Settings
from search.store import Store
from search.writer import Writer, write_lock


class KnowledgeBase:
    """Documents, chunks and vectors under one data directory, searchable by meaning."""

    def __init__(self, settings: Settings, encoder: Encoder) -> None:
        self.settings = settings
        self.encoder = encoder
        self.store = Store(settings.db_path)
        self.generation_files = GenerationFiles(settings, encoder.dimension)
        with self.store.connect() as db:
            check_model(db, settings, encoder)
        with self.store.connect() as db:
            check_backend(db, self.generation_files)
        self.live_generation = LiveGeneration(self.store, self.generation_files)
        self.query_reader = QueryReader(encoder, LanguageDetector(settings.languages))
        self.retriever = Retriever(settings, self.store, self.live_generation)
        self.document_ranker = DocumentRanker(self.store, self.retriever,
                                              settings.hits_per_document)
        self.bridger = Bridger(settings, self.store, self.live_generation, self.query_reader,
                               encoder)
        self.bridge_maps = BridgeMaps(settings, self.store, self.live_generation, encoder)

    @contextmanager
    def writer(self, wait_s: float = 0.0) -> Iterator[Writer]:
        """The single writer of this data directory; publishes what is left on exit.
        Raises ``WriterBusyError`` when another holds it for longer than ``wait_s``."""
        with write_lock(self.settings.data_dir, wait_s):
            writer = Writer(self.settings, self.store, self.generation_files, self.encoder)
            yield writer
            if writer.pending:
                writer.publish()

    def generation(self) -> Generation:
        """The published generation, as this caller reads the database."""
        return self.live_generation.current()

    # --- queries: each ranked and read in one snapshot of the database and its generation,
    # so that a publish meanwhile can neither remove a ranked chunk's row nor add rows the
    # ranking missed -------------------------------------------------------------------
    def search(
        self, query: str, filters: Filters | None = None, k: int = 10, offset: int = 0,
        mode: SearchMode | None = None,
    ) -> list[Hit]:
        """The best chunks for ``query`` among those passing ``filters``."""
        mode = mode or self.settings.search_mode
        read = self.query_reader.read(query, mode)
        with self.store.snapshot():
            return self.retriever.search(read, filters, k, offset, mode)

    def rank_documents(
        self, query: str, filters: Filters | None = None, k: int = 10, offset: int = 0,
        mode: SearchMode | None = None,
    ) -> tuple[Query, list[RankedDocument]]:
        """The query as read, and the best documents with their best chunks (no hits)."""
        mode = mode or self.settings.search_mode
        read = self.query_reader.read(query, mode)
        with self.store.snapshot():
            return read, self.document_ranker.rank(read, filters, k, offset, mode)

    def search_documents(
        self, query: str, filters: Filters | None = None, k: int = 10, offset: int = 0,
        mode: SearchMode | None = None,
    ) -> list[DocumentHits]:
        """The best documents for ``query``, each with its best chunks, best first."""
        mode = mode or self.settings.search_mode
        read = self.query_reader.read(query, mode)
        with self.store.snapshot():
            return self.document_ranker.search(read, filters, k, offset, mode)

    def bridges(self, query: BridgeQuery) -> BridgeResult:
        """The closest findings of the other offices; ``LookupError`` for an unknown source."""
        with self.store.snapshot():
            return self.bridger.bridge(query)

    def bridge_map(self, offices: frozenset[str] | None = None) -> BridgeMap:
        """The map of the published generation over ``offices`` (casefolded; None: all)."""
        return self.bridge_maps.get(offices)

    # --- reads ------------------------------------------------------------------------
    def near_duplicates(self, doc_id: int) -> list[NearDuplicate]:
        """Documents that say nearly the same as this one (copies, translations)."""
        with self.store.connect() as db:
            twins = duplicates.document_twins(db, [doc_id])
        summaries = self.store.document_summaries([doc_id, *(t.twin_id for t in twins)])
        if doc_id not in summaries:
            return []
        language = summaries[doc_id].language
        return [NearDuplicate(document=summaries[t.twin_id], similarity=round(t.similarity, 4),
                              coverage=round(t.coverage, 4),
                              translated=summaries[t.twin_id].language != language)
                for t in twins if t.twin_id in summaries]

    def documents(
        self, filters: Filters | None = None, limit: int = 20, offset: int = 0
    ) -> tuple[list[Document], int]:
        return self.store.documents(filters, limit, offset)

    def document(self, doc_id: int) -> tuple[Document, list[Chunk]] | None:
        return self.store.document(doc_id)

    def status(self) -> dict:
        generation = self.generation()
        return {
            "model": self.encoder.model_id,
            "dimension": self.encoder.dimension,
            "generation": generation.number,
            "vectors": len(generation.index),
            "index": generation.index.kind,
            "data_dir": str(self.settings.data_dir),
            **self.store.counts(),
        }
