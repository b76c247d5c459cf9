"""The knowledge base: one data directory's database, index generations and model, wired.

This is the entry point the API, ingest and evaluation use. Each method opens what it
reads (a connection, or a snapshot that a whole query reads through) and hands the work
to the module that does it: ``search.writer`` publishes, ``search.retrieval`` and
``search.document_ranking`` answer searches, ``search.bridges`` and ``search.bridge_map``
answer bridges and maps, ``search.watching`` keeps watches (``kb.watcher``),
``search.generations`` keeps the live index.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from search import path_names
from search.bridge_map import MapCache
from search.bridges import BridgeQuery, Bridger
from search.chunks import document_chunks
from search.database import Database
from search.document_ranking import DocumentRanker, RankedDocument
from search.documents import (
    PathState,
    document_by_id,
    documents_page,
    facet_counts,
    known_paths,
    totals,
)
from search.embedding import Encoder
from search.embedding_cache import EmbeddingCache
from search.generations import Generation, GenerationFiles, LiveGeneration
from search.language import LanguageDetector
from search.lexical import Analyzer, KeywordSearch, StoredTerms
from search.model_guard import check_backend, check_model
from search.near_duplicates import near_duplicates_of
from search.public_ids import IdCodec, database_codec
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
    RunRecord,
    SearchMode,
)
from search.retrieval import Retriever
from search.runs import recent_runs, run_record
from search.settings import Settings
from search.watching import Watcher
from search.writer import Writer, write_lock


class KnowledgeBase:
    """Documents, chunks and vectors under one data directory, searchable by meaning."""

    def __init__(self, settings: Settings, encoder: Encoder) -> None:
        self.settings = settings
        self.encoder = encoder
        self.database = Database(settings.db_path)
        self.terms = StoredTerms(Analyzer())
        self.generation_files = GenerationFiles(settings, encoder.dimension)
        with self.database.connect() as db:
            self.terms.reanalyse_if_changed(db)
            check_model(db, settings, encoder)
            check_backend(db, self.generation_files)
        self.embedding_cache = EmbeddingCache(self.database, encoder.model_id)
        self.live_generation = LiveGeneration(self.database, self.generation_files)
        self.query_reader = QueryReader(encoder, LanguageDetector(settings.languages),
                                        self.terms.analyzer, settings.languages,
                                        settings.exact_match_terms)
        self.retriever = Retriever(settings, self.database,
                                   KeywordSearch(self.terms, settings.filters_kept),
                                   self.live_generation)
        self.document_ranker = DocumentRanker(self.database, self.retriever,
                                              settings.hits_per_document)
        analyzer = self.terms.analyzer
        self.bridger = Bridger(settings, self.database, self.live_generation,
                               self.query_reader, encoder, analyzer)
        self.map_cache = MapCache(settings, self.database, self.live_generation, encoder, analyzer)
        self.watcher = Watcher(settings, self.database, self.query_reader, encoder)
        self._id_codec: IdCodec | None = None

    @contextmanager
    def writer(self, wait_s: float = 0.0) -> Iterator[Writer]:
        """The single writer of this data directory; publishes what is left on exit (and,
        once, the words of chunks stored before words were kept). Raises ``WriterBusyError``
        when another holds it for longer than ``wait_s``."""
        with write_lock(self.settings.data_dir, wait_s):
            writer = Writer(self.settings, self.database, self.terms, self.generation_files,
                            self.encoder)
            yield writer
            if writer.pending or writer.words_behind():
                writer.publish()

    def prepare(self) -> None:
        """What a server does once as it starts, in the background: load the model, the
        query graph and the language detector, then compute the live generation's bridge
        margins ahead (and each later generation's as it comes)."""
        self.query_reader.prepare()
        self.bridger.prepare()

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
        with self.database.snapshot():
            return self.retriever.search(read, filters, k, offset, mode)

    def rank_documents(
        self, query: str, filters: Filters | None = None, k: int = 10, offset: int = 0,
        mode: SearchMode | None = None,
    ) -> tuple[Query, list[RankedDocument]]:
        """The query as read, and the best documents with their best chunks (no hits)."""
        mode = mode or self.settings.search_mode
        read = self.query_reader.read(query, mode)
        with self.database.snapshot():
            return read, self.document_ranker.rank(read, filters, k, offset, mode)

    def search_documents(
        self, query: str, filters: Filters | None = None, k: int = 10, offset: int = 0,
        mode: SearchMode | None = None,
    ) -> list[DocumentHits]:
        """The best documents for ``query``, each with its best chunks, best first."""
        mode = mode or self.settings.search_mode
        read = self.query_reader.read(query, mode)
        with self.database.snapshot():
            return self.document_ranker.search(read, filters, k, offset, mode)

    def bridges(self, query: BridgeQuery) -> BridgeResult:
        """The closest findings of the other offices; ``LookupError`` for an unknown source."""
        with self.database.snapshot():
            return self.bridger.bridge(query)

    def bridge_map(self, offices: frozenset[str] | None = None) -> BridgeMap:
        """The map of the published generation over ``offices`` (casefolded; None: all)."""
        return self.map_cache.get(offices)

    # --- reads ------------------------------------------------------------------------
    def near_duplicates(self, doc_id: int) -> list[NearDuplicate]:
        """Documents that say nearly the same as this one (copies, translations)."""
        with self.database.connect() as db:
            return near_duplicates_of(db, doc_id)

    def documents(
        self, filters: Filters | None = None, limit: int = 20, offset: int = 0
    ) -> tuple[list[Document], int]:
        """A page of documents (newest first) and the total that pass ``filters``."""
        with self.database.connect() as db:
            return documents_page(db, filters, limit, offset)

    def document(self, doc_id: int) -> tuple[Document, list[Chunk]] | None:
        """A document and its chunks, in order."""
        with self.database.connect() as db:
            document = document_by_id(db, doc_id)
            return None if document is None else (document, document_chunks(db, doc_id))

    def facet_counts(self, filters: Filters | None,
                     fields: list[str]) -> dict[str, Counter[str]]:
        """Documents passing ``filters`` counted per value of each of ``fields``."""
        with self.database.connect() as db:
            return facet_counts(db, filters, fields)

    def known_paths(self, root: str) -> dict[str, PathState]:
        """Every stored path equal to ``root`` or under it (``root`` is resolved)."""
        with self.database.connect() as db:
            return known_paths(db, root)

    def runs(self, limit: int = 20, offset: int = 0) -> list[RunRecord]:
        """Ingest and re-index runs, the latest first."""
        with self.database.connect() as db:
            return recent_runs(db, limit, offset)

    def run_record(self, run_id: int) -> RunRecord | None:
        with self.database.connect() as db:
            return run_record(db, run_id)

    def id_codec(self) -> IdCodec:
        """The codec of the ids shown to API clients (``search.public_ids``)."""
        if self._id_codec is None:
            with self.database.connect() as db:
                self._id_codec = database_codec(db)
        return self._id_codec

    def path_namer(self) -> path_names.PathNamer:
        """Names stored paths for readers (``search.path_names``)."""
        with self.database.connect() as db:
            return path_names.namer(db)

    def status(self) -> dict:
        generation = self.generation()
        with self.database.connect() as db:
            stored = totals(db)
        return {
            "model": self.encoder.model_id,
            "dimension": self.encoder.dimension,
            "generation": generation.number,
            "vectors": len(generation.index),
            "index": generation.index.kind,
            "data_dir": str(self.settings.data_dir),
            **stored,
        }
