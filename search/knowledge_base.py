"""The knowledge base: the database, the published vector index generation, the model.

Writers build the next index generation from the current one and publish it
in one step: the vectors go to a new file (written, flushed, renamed), then a
single SQLite transaction stores the documents and chunks and points ``meta``
at the new generation. A reader always loads the generation the database names,
so it sees either everything of a write or nothing of it; a crash leaves at
worst an orphan file that the next publish removes.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from search.embedding import Encoder
from search.index import VectorIndex, index_class
from search.records import (
    Chunk,
    Document,
    DocumentHits,
    DocumentMeta,
    DocumentSummary,
    Filters,
    Hit,
    NewChunk,
)
from search.settings import Settings
from search.snippets import snippet
from search.store import Store

GENERATIONS_KEPT = 2  # the live one and the one a slow reader may still be loading


class ModelMismatchError(RuntimeError):
    """The index was built with another model than the one configured."""


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
        self._puts.append(_Put(meta, chunks, vectors))

    def delete(self, source_path: str) -> None:
        self._deletes.append(source_path)

    @property
    def pending(self) -> int:
        return len(self._puts) + len(self._deletes)

    def publish(self) -> int:
        """Make every pending write visible at once; returns the new generation."""
        kb = self._kb
        with kb.store.connect() as db:
            generation, index = kb.load_generation(db)
            for source_path in self._deletes:
                index.delete(np.array(kb.store.delete_document(db, source_path), np.int64))
            for put in self._puts:
                index.delete(np.array(kb.store.delete_document(db, put.meta.source_path), np.int64))
                ids = kb.store.insert_document(db, put.meta, put.chunks)
                index.add(np.array(ids, np.int64), put.vectors)
            generation += 1
            kb.write_generation(index, generation)
            kb.store.set_meta(db, "generation", str(generation))
        self._puts, self._deletes = [], []
        kb.prune_generations(generation)
        return generation


class KnowledgeBase:
    """Documents, chunks and vectors under one data directory, searchable by meaning."""

    def __init__(self, settings: Settings, encoder: Encoder) -> None:
        self.settings = settings
        self.encoder = encoder
        self.store = Store(settings.db_path)
        self._index_class = index_class(settings.index_backend)
        settings.index_dir.mkdir(parents=True, exist_ok=True)
        self._check_model()
        self._loaded: tuple[int, VectorIndex] | None = None
        self._load_lock = threading.Lock()

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

    def load_generation(self, db) -> tuple[int, VectorIndex]:
        """A private copy of the published generation (an empty index at generation 0)."""
        generation = int(self.store.get_meta(db, "generation") or 0)
        if generation == 0:
            return 0, self._index_class(self.encoder.dimension)
        return generation, self._index_class.load(self._generation_path(generation))

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

    def index(self) -> tuple[int, VectorIndex]:
        """The published generation, reloaded when a writer has published a newer one."""
        with self.store.connect() as db:
            generation = int(self.store.get_meta(db, "generation") or 0)
        loaded = self._loaded
        if loaded is not None and loaded[0] == generation:
            return loaded
        with self._load_lock:
            if self._loaded is None or self._loaded[0] != generation:
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
    def _chunk_hits(self, query: str, filters: Filters | None, depth: int) -> list[Hit]:
        _generation, index = self.index()
        allowed = None
        if filters is not None and not filters.is_empty():
            allowed = np.array(self.store.chunk_ids(filters), dtype=np.int64)
        vector = self.encoder.encode_queries([query])
        scores, ids = index.search(vector, depth, allowed)
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
        _generation, index = self.index()
        depth = min(len(index), max(50, (offset + k) * 10))
        groups: dict[int, DocumentHits] = {}
        for hit in self._chunk_hits(query, filters, depth):
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
        generation, index = self.index()
        return {
            "model": self.encoder.model_id,
            "dimension": self.encoder.dimension,
            "generation": generation,
            "vectors": len(index),
            "data_dir": str(self.settings.data_dir),
            **self.store.counts(),
        }
