"""The knowledge base: the database, the published vector index generation, the model.

Writers build the next index generation from the current one and publish it
in one step: the vectors go to a new file (written, flushed, renamed), then a
single SQLite transaction stores the documents and chunks and points ``meta``
at the new generation. A reader always loads the generation the database names,
so it sees either everything of a write or nothing of it; a crash leaves at
worst an orphan file that the next publish removes. The language centroids the
generation's vectors were centred with are published in the same transaction
(see ``search.centering``).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from search.centering import LanguageCentroids
from search.embedding import Encoder
from search.index import VectorIndex, index_class
from search.language import LanguageDetector
from search.records import (
    Chunk,
    Document,
    DocumentHits,
    DocumentMeta,
    DocumentSummary,
    Filters,
    Hit,
    NewChunk,
    valid_utf8,
)
from search.settings import Settings
from search.snippets import snippet
from search.store import Store

GENERATIONS_KEPT = 2  # the live one and the one a slow reader may still be loading


class ModelMismatchError(RuntimeError):
    """The index was built with another model than the one configured."""


@dataclass(frozen=True)
class Generation:
    """One published state: its number, its index and the centroids its vectors use."""

    number: int
    index: VectorIndex
    centroids: LanguageCentroids


@dataclass
class _Put:
    meta: DocumentMeta
    chunks: list[NewChunk]
    vectors: np.ndarray


class Writer:
    """Collects document writes and publishes them as one new index generation."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self._kb = kb
        self._puts: list[_Put] = []
        self._deletes: list[str] = []

    def put(self, meta: DocumentMeta, chunks: list[NewChunk], vectors: np.ndarray) -> None:
        """Add a document, replacing any stored one with the same source path."""
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk")
        self._puts = [p for p in self._puts if p.meta.source_path != meta.source_path]
        self._puts.append(_Put(meta, chunks, vectors))

    def delete(self, source_path: str) -> None:
        self._deletes.append(source_path)

    @property
    def pending(self) -> int:
        return len(self._puts) + len(self._deletes)

    def publish(self) -> int:
        """Make every pending write visible at once; returns the new generation."""
        kb, store, dimension = self._kb, self._kb.store, self._kb.encoder.dimension
        with store.connect() as db:
            live = kb.load_generation(db)
            index, centroids = live.index, live.centroids
            added_ids: list[int] = []
            added_languages: list[str | None] = []
            for source_path in [*self._deletes, *(p.meta.source_path for p in self._puts)]:
                removed = store.delete_document(db, source_path, dimension)
                index.delete(removed.ids)
                centroids.remove(removed.languages, removed.vectors)
            for put in self._puts:
                added_ids += store.insert_document(db, put.meta, put.chunks, put.vectors)
                languages = [c.language or put.meta.language for c in put.chunks]
                added_languages += languages
                centroids.add(languages, put.vectors)
            if centroids.drifted(kb.settings.recenter_tolerance):
                centroids.apply_current()
                stored = store.all_vectors(db, dimension)
                index = kb.new_index()
                index.add(stored.ids, centroids.center(stored.vectors, stored.languages))
            elif added_ids:
                vectors = np.concatenate([p.vectors for p in self._puts])
                index.add(np.array(added_ids, np.int64), centroids.center(vectors, added_languages))
            number = live.number + 1
            kb.write_generation(index, number)
            store.set_meta(db, "generation", str(number))
            store.set_meta(db, "centroids", centroids.to_json())
        self._puts, self._deletes = [], []
        kb.prune_generations(number)
        return number


class KnowledgeBase:
    """Documents, chunks and vectors under one data directory, searchable by meaning."""

    def __init__(self, settings: Settings, encoder: Encoder) -> None:
        self.settings = settings
        self.encoder = encoder
        self.store = Store(settings.db_path)
        self._index_class = index_class(settings.index_backend)
        settings.index_dir.mkdir(parents=True, exist_ok=True)
        self._check_model()
        self._loaded: Generation | None = None
        self._load_lock = threading.Lock()
        self._languages = LanguageDetector(settings.languages)

    # --- model guard ------------------------------------------------------------
    def _check_model(self) -> None:
        with self.store.connect() as db:
            model_id = self.store.get_meta(db, "model_id")
            dimension = self.store.get_meta(db, "dimension")
            if model_id is None:
                self.store.set_meta(db, "model_id", self.encoder.model_id)
                self.store.set_meta(db, "dimension", str(self.encoder.dimension))
                return
        if model_id != self.encoder.model_id or int(dimension or 0) != self.encoder.dimension:
            raise ModelMismatchError(
                f"the index in {self.settings.data_dir} was built with model {model_id!r} "
                f"(dimension {dimension}), but the configured model is "
                f"{self.encoder.model_id!r} (dimension {self.encoder.dimension}). "
                f"Set BRIDGE_MODEL={model_id} to use this index, or choose another "
                "BRIDGE_DATA_DIR to build a new one."
            )

    # --- generations ------------------------------------------------------------
    def _generation_path(self, generation: int) -> Path:
        return self.settings.index_dir / f"vectors-{generation:06d}.{self.settings.index_backend}"

    def new_index(self) -> VectorIndex:
        return self._index_class(self.encoder.dimension)

    def load_generation(self, db: sqlite3.Connection) -> Generation:
        """A private copy of the published generation (an empty one at number 0)."""
        number = int(self.store.get_meta(db, "generation") or 0)
        centroids = LanguageCentroids.from_json(
            self.store.get_meta(db, "centroids"), self.encoder.dimension,
            self.settings.language_centering, self.settings.centroid_shrinkage)
        index = self._index_class.load(self._generation_path(number)) if number else \
            self.new_index()
        return Generation(number, index, centroids)

    def write_generation(self, index: VectorIndex, generation: int) -> None:
        path = self._generation_path(generation)
        tmp = path.with_suffix(path.suffix + ".tmp")
        index.save(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def prune_generations(self, live: int) -> None:
        for path in self.settings.index_dir.glob("vectors-*"):
            try:
                generation = int(path.name.split("-")[1].split(".")[0])
            except ValueError:
                continue
            if generation > live or generation <= live - GENERATIONS_KEPT:
                path.unlink(missing_ok=True)

    def generation(self) -> Generation:
        """The published generation, reloaded when a writer has published a newer one.

        A query holds the object it got for its whole run, so a publish in the
        meantime never changes the index under it.
        """
        with self.store.connect() as db:
            number = int(self.store.get_meta(db, "generation") or 0)
        loaded = self._loaded
        if loaded is not None and loaded.number == number:
            return loaded
        with self._load_lock:
            if self._loaded is None or self._loaded.number != number:
                with self.store.connect() as db:
                    self._loaded = self.load_generation(db)
            return self._loaded

    @contextmanager
    def writer(self) -> Iterator[Writer]:
        """The single writer of this data directory; publishes what is left on exit."""
        with open(self.settings.data_dir / "write.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            writer = Writer(self)
            yield writer
            if writer.pending:
                writer.publish()

    # --- queries ------------------------------------------------------------------
    def query_vector(self, query: str, generation: Generation) -> np.ndarray:
        """The query's vector, centred like the generation's chunk vectors."""
        query = valid_utf8(query)
        vector = self.encoder.encode_queries([query])
        return generation.centroids.center(vector, [self._languages.detect(query)])

    def _chunk_hits(self, query: str, filters: Filters | None, depth: int) -> list[Hit]:
        generation = self.generation()
        allowed = None
        if filters is not None and not filters.is_empty():
            allowed = np.array(self.store.chunk_ids(filters), dtype=np.int64)
        scores, ids = generation.index.search(self.query_vector(query, generation), depth, allowed)
        pairs = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
        rows = self.store.chunks_by_id([i for i, _ in pairs])
        return [self._hit(*rows[i], score, query) for i, score in pairs if i in rows]

    def _hit(self, chunk: Chunk, document: Document, score: float, query: str) -> Hit:
        return Hit(
            chunk_id=chunk.id,
            score=score,
            snippet=snippet(chunk.text, query, self.settings.snippet_chars),
            text=chunk.text,
            language=chunk.language,
            provenance=chunk.provenance,
            document=DocumentSummary.model_validate(document.model_dump()),
        )

    def search(
        self, query: str, filters: Filters | None = None, k: int = 10, offset: int = 0
    ) -> list[Hit]:
        """The best chunks for ``query`` among those passing ``filters``."""
        return self._chunk_hits(query, filters, offset + k)[offset:]

    def search_documents(
        self, query: str, filters: Filters | None = None, k: int = 10, offset: int = 0
    ) -> list[DocumentHits]:
        """The best documents for ``query``, each with its matching chunks, best first."""
        groups: dict[int, DocumentHits] = {}
        # enough chunks to fill k documents even when one document has many hits
        for hit in self._chunk_hits(query, filters, max(50, (offset + k) * 10)):
            group = groups.setdefault(
                hit.document.id, DocumentHits(document=hit.document, score=hit.score, hits=[])
            )
            group.hits.append(hit)
        return list(groups.values())[offset : offset + k]

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
            "languages": {k or "?": v for k, v in generation.centroids.counts.items() if v},
            "data_dir": str(self.settings.data_dir),
            **self.store.counts(),
        }
