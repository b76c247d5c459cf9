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

import datetime as dt
import fcntl
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from search.centering import LanguageCentroids
from search.embedding import Encoder
from search.index import VectorIndex, index_class
from search.records import (
    Chunk,
    Document,
    DocumentHits,
    DocumentMeta,
    FileStat,
    Filters,
    Hit,
    NewChunk,
    SearchMode,
)
from search.retrieval import Query, Retriever
from search.settings import Settings
from search.store import Store, StoredVectors

log = logging.getLogger(__name__)


class ModelMismatchError(RuntimeError):
    """The index was built with another model than the one configured."""


class WriterBusyError(RuntimeError):
    """Another run holds this data directory's write lock."""


@dataclass(frozen=True)
class Generation:
    """One published state: its number, its index and the centroids its vectors use."""

    number: int
    index: VectorIndex
    centroids: LanguageCentroids


@dataclass(frozen=True)
class RankedDocument:
    """A document's place in a ranking: its best chunks (id, score), best first."""

    id: int
    source_path: str
    score: float
    chunks: list[tuple[int, float]]


@dataclass
class _Put:
    meta: DocumentMeta
    chunks: list[NewChunk]
    vectors: np.ndarray
    stat: FileStat | None
    source: str | None
    replace: bool


@dataclass
class _Link:
    source_path: str
    content_hash: str
    stat: FileStat | None
    source: str | None
    meta: DocumentMeta | None


@dataclass
class _Changes:
    """What one publish did to the vectors: the index and centroids follow it."""

    added_ids: list[int] = field(default_factory=list)
    added_languages: list[str | None] = field(default_factory=list)
    added_vectors: list[np.ndarray] = field(default_factory=list)
    removed: list[StoredVectors] = field(default_factory=list)


class Writer:
    """Collects document writes and publishes them as one new index generation.

    A document is one distinct content; paths point at it. ``put`` stores new
    content under a path, ``link`` points a path at content already stored (a
    moved or duplicated file), ``delete`` forgets a path. Content no path names
    any more leaves the database and every index in the same publish.
    """

    def __init__(self, kb: KnowledgeBase) -> None:
        self._kb = kb
        self._puts: dict[str, _Put] = {}
        self._links: list[_Link] = []
        self._deletes: list[str] = []

    def put(self, meta: DocumentMeta, chunks: list[NewChunk], vectors: np.ndarray,
            stat: FileStat | None = None, source: str | None = None,
            replace: bool = False) -> None:
        """Store a document under ``meta.source_path`` (the last put of a path wins).

        When its content is already stored the path is linked to it instead,
        unless ``replace`` asks to re-chunk the stored content.
        """
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk")
        self._puts.pop(meta.source_path, None)
        self._puts[meta.source_path] = _Put(meta, chunks, vectors, stat, source, replace)

    def link(self, source_path: str, content_hash: str, stat: FileStat | None = None,
             source: str | None = None, meta: DocumentMeta | None = None) -> None:
        """Point a path at stored content; ``meta`` (a moved file's) replaces its metadata."""
        self._links.append(_Link(source_path, content_hash, stat, source, meta))

    def delete(self, source_path: str) -> None:
        self._deletes.append(source_path)

    @property
    def pending(self) -> int:
        return len(self._puts) + len(self._links) + len(self._deletes)

    def publish(self) -> int:
        """Make every pending write visible at once; returns the published generation.

        The generation number only moves when the vectors changed: a publish of
        moves and metadata alone keeps serving the same index file.
        """
        kb, store = self._kb, self._kb.store
        with store.connect() as db:
            live = kb.load_generation(db)
            changes = _Changes()
            orphans: set[int] = set()
            for put in self._puts.values():
                orphans |= self._apply_put(db, put, changes)
            for link in self._links:
                orphans |= self._apply_link(db, link)
            for source_path in self._deletes:
                orphans.add(store.unlink_path(db, source_path) or 0)
            changes.removed.append(store.delete_orphans(db, orphans - {0}, kb.encoder.model_id,
                                                        kb.encoder.dimension))
            number = self._publish_vectors(db, live, changes)
        self._puts, self._links, self._deletes = {}, [], []
        kb.prune_generations(number)
        return number

    def _apply_put(self, db: sqlite3.Connection, put: _Put, changes: _Changes) -> set[int]:
        store, model_id = self._kb.store, self._kb.encoder.model_id
        doc_id = store.document_id_by_hash(db, put.meta.content_hash)
        store_chunks = doc_id is None or put.replace  # else only the path is new
        if doc_id is None:
            doc_id = store.insert_document(db, put.meta, len(put.chunks))
        elif put.replace:
            changes.removed.append(store.delete_chunks(db, [doc_id], model_id,
                                                       self._kb.encoder.dimension))
            store.update_document(db, doc_id, put.meta, len(put.chunks))
        if store_chunks and put.chunks:
            changes.added_ids += store.insert_chunks(db, doc_id, put.meta.language, put.chunks,
                                                     put.vectors, model_id)
            changes.added_languages += [c.language or put.meta.language for c in put.chunks]
            changes.added_vectors.append(put.vectors)
        before = store.link_path(db, put.meta.source_path, doc_id, put.stat, put.source)
        return {before} if before not in (None, doc_id) else set()

    def _apply_link(self, db: sqlite3.Connection, link: _Link) -> set[int]:
        store = self._kb.store
        doc_id = store.document_id_by_hash(db, link.content_hash)
        if doc_id is None:
            raise LookupError(f"no stored content {link.content_hash} for {link.source_path}")
        before = store.link_path(db, link.source_path, doc_id, link.stat, link.source)
        if link.meta is not None:
            store.update_document(db, doc_id, link.meta)
        return {before} if before not in (None, doc_id) else set()

    def _publish_vectors(self, db: sqlite3.Connection, live: Generation,
                         changes: _Changes) -> int:
        """Apply the changes to the index and centroids; write a generation if they moved."""
        kb, store = self._kb, self._kb.store
        index, centroids = live.index, live.centroids
        removed_any = False
        for removed in changes.removed:
            if len(removed.ids):
                removed_any = True
                index.delete(removed.ids)
                centroids.remove(removed.languages, removed.vectors)
        if not changes.added_ids and not removed_any:
            return live.number
        if changes.added_ids:
            added = np.concatenate(changes.added_vectors)
            centroids.add(changes.added_languages, added)
        if centroids.drifted(kb.settings.recenter_tolerance):
            centroids.apply_current()
            stored = store.all_vectors(db, kb.encoder.model_id, kb.encoder.dimension)
            index = kb.new_index()
            index.add(stored.ids, centroids.center(stored.vectors, stored.languages))
        elif changes.added_ids:
            index.add(np.array(changes.added_ids, np.int64),
                      centroids.center(added, changes.added_languages))
        number = live.number + 1
        kb.write_generation(index, number)
        store.set_meta(db, "generation", str(number))
        store.set_meta(db, "centroids", centroids.to_json())
        return number


def _holder(lock) -> dict:
    lock.seek(0)
    try:
        return json.loads(lock.read() or "{}")
    except json.JSONDecodeError:
        return {}


def _busy_message(lock) -> str:
    holder = _holder(lock)
    return (f"a re-index is already running since {holder.get('since', '?')} "
            f"(pid {holder.get('pid', '?')}); try again when it has finished")


def _take_over(lock) -> None:
    """Write this process into the lock file, noting a dead holder it replaces."""
    previous = _holder(lock)
    if previous.get("pid"):
        log.warning("took over the write lock left by pid %s (started %s), which is gone",
                    previous["pid"], previous.get("since"))
    lock.seek(0)
    lock.truncate(0)
    lock.write(json.dumps({"pid": os.getpid(),
                           "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}))
    lock.flush()


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
        self.retriever = Retriever(settings, self.store, self.generation, encoder)

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
        # the rename itself must survive a power loss before the database names the file
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)

    def prune_generations(self, live: int) -> None:
        for path in self.settings.index_dir.glob("vectors-*"):
            try:
                generation = int(path.name.split("-")[1].split(".")[0])
            except ValueError:
                continue
            if generation > live or generation <= live - self.settings.generations_kept:
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
        """The single writer of this data directory; publishes what is left on exit.

        The lock is an ``flock`` on ``write.lock``: the kernel drops it when its
        process dies, so a lock left by a killed run is simply taken over. The
        file names the holder so that a second writer can say who is at work.
        """
        with open(self.settings.data_dir / "write.lock", "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise WriterBusyError(_busy_message(lock)) from None
            _take_over(lock)
            try:
                writer = Writer(self)
                yield writer
                if writer.pending:
                    writer.publish()
            finally:
                lock.truncate(0)

    # --- queries ------------------------------------------------------------------
    def search(
        self, query: str, filters: Filters | None = None, k: int = 10, offset: int = 0,
        mode: SearchMode | None = None,
    ) -> list[Hit]:
        """The best chunks for ``query`` among those passing ``filters``."""
        read = self.retriever.read(query)
        # ranked deeper than k: chunks replaced since the index generation was read are
        # dropped when their rows are fetched, and the next ones fill their places
        ranked = self.retriever.rank(read, filters, offset + 2 * k,
                                     mode or self.settings.search_mode)
        return self.retriever.hits(read, ranked[offset:])[:k]

    def rank_documents(
        self, query: str, filters: Filters | None = None, k: int = 10, offset: int = 0,
        mode: SearchMode | None = None,
    ) -> tuple[Query, list[RankedDocument]]:
        """The best documents, each with its best chunks (at most ``hits_per_document``).

        Cheap: no hit is built. ``search_documents`` builds the hits of those shown,
        ``bridge eval`` needs only the order.
        """
        read = self.retriever.read(query)
        # enough chunks to fill k documents even when one document has many hits
        depth = max(50, (offset + k) * 10)
        ranked = self.retriever.rank(read, filters, depth, mode or self.settings.search_mode)
        owners = self.store.chunk_documents([i for i, _ in ranked])
        documents: dict[int, RankedDocument] = {}
        for chunk_id, score in ranked:
            if chunk_id not in owners:
                continue  # deleted since the index was read
            doc_id, source_path = owners[chunk_id]
            document = documents.setdefault(doc_id, RankedDocument(doc_id, source_path, score,
                                                                   []))
            if len(document.chunks) < self.settings.hits_per_document:
                document.chunks.append((chunk_id, score))
        return read, list(documents.values())[offset : offset + k]

    def search_documents(
        self, query: str, filters: Filters | None = None, k: int = 10, offset: int = 0,
        mode: SearchMode | None = None,
    ) -> list[DocumentHits]:
        """The best documents for ``query``, each with its best chunks, best first."""
        read, ranked = self.rank_documents(query, filters, k, offset, mode)
        hits = self.retriever.hits(read, [c for d in ranked for c in d.chunks])
        groups: dict[int, DocumentHits] = {}
        for hit in hits:
            group = groups.setdefault(
                hit.document.id, DocumentHits(document=hit.document, score=hit.score, hits=[]))
            group.hits.append(hit)
        return list(groups.values())

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
