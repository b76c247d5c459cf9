"""The knowledge base: the database, the published vector index generation, the model.

Writers build the next index generation from the current one and publish it
in one step: the vectors go to a new file (written, flushed, renamed), then a
single SQLite transaction stores the documents and chunks and points ``meta``
at the new generation. A reader always loads the generation the database names,
so it sees either everything of a write or nothing of it; a crash leaves at
worst an orphan file that the next publish removes. The language offsets the
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
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from search import duplicates
from search.bridge_map import MapBuilder, MapChunks
from search.bridges import BridgeQuery, Bridger
from search.centering import LanguageOffsets, measure_offsets, offsets_key
from search.embedding import Encoder
from search.embedding.models import settings_for_model_id
from search.index import VectorIndex, index_class
from search.records import (
    BridgeMap,
    BridgeResult,
    Chunk,
    Document,
    DocumentHits,
    DocumentMeta,
    DocumentSummary,
    FileStat,
    Filters,
    Hit,
    NearDuplicate,
    NewChunk,
    SearchMode,
)
from search.retrieval import Query, Retriever
from search.settings import Settings
from search.store import Store

log = logging.getLogger(__name__)

# How deep a document ranking reads the chunk ranking (``rank_documents``): this many
# chunks for each document wanted, at least MIN_DEPTH, DEEPER times deeper while too few
# documents were met. It read ten a document before: SciFact's abstracts make 2.6 chunks.
CHUNKS_PER_DOCUMENT, MIN_DEPTH, DEEPER = 3, 50, 4
_LOCK_POLL_S = 0.2  # how often a waiting writer tries the lock again
OFFSETS_META = "language_offsets"


class ModelMismatchError(RuntimeError):
    """The index was built with another model (or precision, or index backend) than the
    one configured: refused, never silently mixed."""


class WriterBusyError(RuntimeError):
    """Another run holds this data directory's write lock. The message says since when; the
    holder's process id (``pid``) is for the operator's command line, never for clients."""

    def __init__(self, since: str, pid: int | None) -> None:
        super().__init__(f"a re-index is already running since {since}; try again when it "
                         "has finished")
        self.pid = pid


@dataclass(frozen=True)
class Generation:
    """One published state: its number, its index and the language offsets its vectors use."""

    number: int
    index: VectorIndex
    offsets: LanguageOffsets


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
    """What one publish did to the vectors: the index follows it."""

    added_ids: list[int] = field(default_factory=list)
    added_languages: list[str | None] = field(default_factory=list)
    added_vectors: list[np.ndarray] = field(default_factory=list)
    removed_ids: list[int] = field(default_factory=list)


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
            changes.removed_ids += store.delete_orphans(db, orphans - {0})
            published = self._publish_vectors(db, live, changes)
            store.lexical.mark_changed(db)
            if published.number != live.number:
                self._find_twins(db, published, changes)
        self._puts, self._links, self._deletes = {}, [], []
        kb.announce_generation(published.number)
        kb.prune_generations(published.number)
        return published.number

    def _apply_put(self, db: sqlite3.Connection, put: _Put, changes: _Changes) -> set[int]:
        store, model_id = self._kb.store, self._kb.encoder.model_id
        doc_id = store.document_id_by_hash(db, put.meta.content_hash)
        store_chunks = doc_id is None or put.replace  # else only the path is new
        if doc_id is None:
            doc_id = store.insert_document(db, put.meta, len(put.chunks))
        elif put.replace:
            changes.removed_ids += store.delete_chunks(db, [doc_id])
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
                         changes: _Changes) -> Generation:
        """Apply the changes to the index; write a generation if the vectors moved.

        The whole index is rebuilt from the raw vectors when its language offsets are
        stale (see ``search.centering``) or when an exact index outgrows its limit (it is
        rebuilt approximate).
        """
        kb, store = self._kb, self._kb.store
        index = live.index
        if changes.removed_ids:
            index.delete(np.array(changes.removed_ids, np.int64))
        stale = live.offsets.key != kb.offsets_key()
        if not changes.added_ids and not changes.removed_ids and not stale:
            return live
        outgrown = index.exact and len(index) + len(changes.added_ids) > \
            kb.settings.index_exact_limit
        offsets = kb.language_offsets() if stale else live.offsets
        if stale or outgrown:
            stored = store.all_vectors(db, kb.encoder.model_id, kb.encoder.dimension)
            index = kb.new_index(len(stored.ids))
            index.add(stored.ids, offsets.center(stored.vectors, stored.languages))
        elif changes.added_ids:
            index.add(np.array(changes.added_ids, np.int64),
                      offsets.center(np.concatenate(changes.added_vectors),
                                     changes.added_languages))
        number = live.number + 1
        kb.write_generation(index, number)
        store.set_meta(db, "generation", str(number))
        store.set_meta(db, OFFSETS_META, offsets.to_json())
        return Generation(number, index, offsets)

    def _find_twins(self, db: sqlite3.Connection, published: Generation,
                    changes: _Changes) -> None:
        """Range-search the new chunks for near-duplicates (all chunks, the first time)."""
        store, rules = self._kb.store, self._kb.twin_rules
        if store.get_meta(db, duplicates.SEARCHED_KEY):
            if not changes.added_ids:
                return
            ids = np.array(changes.added_ids, np.int64)
            vectors = published.offsets.center(np.concatenate(changes.added_vectors),
                                                 changes.added_languages)
        else:
            stored = store.all_vectors(db, self._kb.encoder.model_id, self._kb.encoder.dimension)
            ids, vectors = stored.ids, published.offsets.center(stored.vectors,
                                                                  stored.languages)
        affected = duplicates.find_chunk_twins(db, published.index, ids, vectors, rules)
        duplicates.confirm_document_twins(db, affected, rules)
        store.set_meta(db, duplicates.SEARCHED_KEY, "1")


def _unique_documents(documents: list[DocumentSummary],
                      home: DocumentSummary) -> list[DocumentSummary]:
    """Each document once, never the one the others are folded into."""
    unique = {d.id: d for d in documents if d.id != home.id}
    return list(unique.values())


def _holder(lock) -> dict:
    lock.seek(0)
    try:
        return json.loads(lock.read() or "{}")
    except json.JSONDecodeError:
        return {}


def _busy(lock) -> WriterBusyError:
    holder = _holder(lock)
    pid = holder.get("pid")
    return WriterBusyError(str(holder.get("since", "?")), pid if isinstance(pid, int) else None)


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
        self._index_class = index_class(settings)
        self.twin_rules = duplicates.TwinRules(settings.duplicate_similarity,
                                               settings.duplicate_coverage)
        settings.index_dir.mkdir(parents=True, exist_ok=True)
        self._check_model()
        self._check_backend()
        self._loaded: dict[int, Generation] = {}  # the recent generations, by number
        self._load_lock = threading.Lock()
        self.retriever = Retriever(settings, self.store, self.generation, encoder)
        self.bridger = Bridger(self.retriever)
        self._maps: dict[frozenset[str] | None, BridgeMap] = {}
        self._map_lock = threading.Lock()

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
                f"Set {settings_for_model_id(model_id)} to use this index, or choose "
                "another BRIDGE_DATA_DIR to build a new one."
            )

    def _check_backend(self) -> None:
        """The published generation must be one the configured backend can read."""
        with self.store.connect() as db:
            number = int(self.store.get_meta(db, "generation") or 0)
        if not number or self._generation_path(number).exists():
            return
        for path in self.settings.index_dir.glob(f"vectors-{number:06d}.*"):
            if path.suffix != ".tmp":
                raise ModelMismatchError(
                    f"the index in {self.settings.data_dir} is held by the "
                    f"{path.suffix[1:]!r} backend, but the configured backend is "
                    f"{self.settings.index_backend!r}. Set BRIDGE_INDEX_BACKEND="
                    f"{path.suffix[1:]} to use this index, or choose another BRIDGE_DATA_DIR "
                    "to build a new one.")

    # --- generations ------------------------------------------------------------
    def _generation_path(self, generation: int) -> Path:
        return self.settings.index_dir / f"vectors-{generation:06d}.{self.settings.index_backend}"

    def offsets_key(self) -> str:
        """Which language offsets this knowledge base's settings and model call for."""
        return offsets_key(self.encoder.model_id, self.settings.language_centering)

    def language_offsets(self) -> LanguageOffsets:
        """The offsets a publish centres with, measured once per model and strength."""
        return measure_offsets(self.encoder, self.settings.language_centering)

    def new_index(self, expected: int = 0) -> VectorIndex:
        """An empty index for about ``expected`` vectors (exact while that is small)."""
        return self._index_class.for_size(self.encoder.dimension, expected,
                                          self.settings.index_exact_limit,
                                          self.settings.ivf_nprobe)

    def load_generation(self, db: sqlite3.Connection) -> Generation:
        """A private copy of the published generation (an empty one at number 0)."""
        number = int(self.store.get_meta(db, "generation") or 0)
        offsets = LanguageOffsets.from_json(self.store.get_meta(db, OFFSETS_META))
        index = self._index_class.load(self._generation_path(number)) if number else \
            self.new_index()
        return Generation(number, index, offsets)

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

    def announce_generation(self, live: int) -> None:
        """Point what lies outside the database (a Milvus alias) at the published generation.

        Called after the database names it, on every publish: a crash in between
        leaves the alias one generation behind until the next publish.
        """
        if live:
            self._index_class.publish(self._generation_path(live))

    def prune_generations(self, live: int) -> None:
        """Keep the live generation and those a slow reader may hold; retire the rest,
        with the orphans of a crashed publish (newer than live, or half written)."""
        kept: list[Path] = []
        dropped: list[Path] = []
        for path in self.settings.index_dir.glob("vectors-*"):
            try:
                generation = int(path.name.split("-")[1].split(".")[0])
            except ValueError:
                continue
            recent = live - self.settings.generations_kept < generation <= live
            (kept if recent and path.suffix != ".tmp" else dropped).append(path)
        self._index_class.retire(dropped, kept)

    def generation(self) -> Generation:
        """The generation the database publishes, as this caller reads the database: inside
        a ``store.snapshot()`` the one of its snapshot, so that a query ranks on the index
        whose rows it then reads, even if a writer has published since.

        The last ``generations_kept`` are kept loaded; a query holds the object it got for
        its whole run, so a publish in the meantime never changes the index under it.
        """
        with self.store.connect() as db:
            number = int(self.store.get_meta(db, "generation") or 0)
            loaded = self._loaded.get(number)
            if loaded is not None:
                return loaded
            with self._load_lock:
                if number and number not in self._loaded and self._loaded \
                        and not self._generation_path(number).exists():
                    return self._loaded[max(self._loaded)]  # pruned under a very slow reader
                if number not in self._loaded:
                    self._loaded[number] = self.load_generation(db)
                    for old in sorted(self._loaded)[:-self.settings.generations_kept]:
                        del self._loaded[old]
                return self._loaded[number]

    @contextmanager
    def writer(self, wait_s: float = 0.0) -> Iterator[Writer]:
        """The single writer of this data directory; publishes what is left on exit.

        The lock is an ``flock`` on ``write.lock``: the kernel drops it when its
        process dies, so a lock left by a killed run is simply taken over. The
        file names the holder so that a second writer can say who is at work. A writer
        that finds it held waits up to ``wait_s`` for it, then raises ``WriterBusyError``.
        """
        deadline = time.monotonic() + wait_s
        with open(self.settings.data_dir / "write.lock", "a+") as lock:
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise _busy(lock) from None
                    time.sleep(_LOCK_POLL_S)
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
        """The best chunks for ``query`` among those passing ``filters``.

        Ranked and read in one snapshot of the database and its generation: a publish
        meanwhile can neither remove a ranked chunk's row nor add rows the ranking missed.
        """
        mode = mode or self.settings.search_mode
        read = self.retriever.read(query, mode)
        with self.store.snapshot():
            ranked = self.retriever.rank(read, filters, offset + 2 * k, mode)
            hits = {hit.chunk_id: hit for hit in self.retriever.hits(read, ranked[offset:])}
            with self.store.connect() as db:
                twins = duplicates.chunk_twin_map(db, list(hits))
        shown = list(duplicates.fold(list(hits), twins).items())[:k]
        for chunk_id, folded in shown:
            hits[chunk_id].also_in = _unique_documents([hits[i].document for i in folded],
                                                       hits[chunk_id].document)
        return [hits[chunk_id] for chunk_id, _ in shown]

    def rank_documents(
        self, query: str, filters: Filters | None = None, k: int = 10, offset: int = 0,
        mode: SearchMode | None = None,
    ) -> tuple[Query, list[RankedDocument]]:
        """The best documents, each with its best chunks (at most ``hits_per_document``).

        Cheap: no hit is built. ``search_documents`` builds the hits of those shown,
        ``bridge eval`` needs only the order. A document ranks by its best chunk, so the
        first ``offset + k`` documents met down the chunk ranking are the answer; the
        ranking starts at ``CHUNKS_PER_DOCUMENT`` chunks a document wanted and is read
        deeper only when many chunks of a few documents fill it.
        """
        mode = mode or self.settings.search_mode
        read = self.retriever.read(query, mode)
        wanted = offset + k
        depth = max(MIN_DEPTH, wanted * CHUNKS_PER_DOCUMENT)
        with self.store.snapshot():  # one generation per query (see ``search``)
            while True:
                ranked = self.retriever.rank(read, filters, depth, mode)
                documents = self._documents(ranked)
                if len(documents) >= wanted or len(ranked) < depth:
                    break
                depth *= DEEPER
            page = list(documents.items())[offset:wanted]
            paths = self.store.source_paths([doc_id for doc_id, _ in page])
        return read, [RankedDocument(doc_id, paths[doc_id], chunks[0][1], chunks)
                      for doc_id, chunks in page if doc_id in paths]

    def _documents(self, ranked: list[tuple[int, float]]) -> dict[int, list[tuple[int, float]]]:
        """Document id -> its best ranked chunks (at most ``hits_per_document``), in the
        order the documents are first met; chunks deleted since the index was read drop."""
        owners = self.store.chunk_documents([i for i, _ in ranked])
        documents: dict[int, list[tuple[int, float]]] = {}
        for chunk_id, score in ranked:
            doc_id = owners.get(chunk_id)
            if doc_id is None:
                continue
            chunks = documents.setdefault(doc_id, [])
            if len(chunks) < self.settings.hits_per_document:
                chunks.append((chunk_id, score))
        return documents

    def search_documents(
        self, query: str, filters: Filters | None = None, k: int = 10, offset: int = 0,
        mode: SearchMode | None = None,
    ) -> list[DocumentHits]:
        """The best documents for ``query``, each with its best chunks, best first."""
        with self.store.snapshot():  # one generation per query (see ``search``)
            return self._search_documents(query, filters, k, offset, mode)

    def _search_documents(self, query: str, filters: Filters | None, k: int, offset: int,
                          mode: SearchMode | None) -> list[DocumentHits]:
        read, ranked = self.rank_documents(query, filters, 2 * k, offset, mode)
        with self.store.connect() as db:
            twins = duplicates.twin_map(duplicates.document_twins(db, [d.id for d in ranked]))
        shown = list(duplicates.fold([d.id for d in ranked], twins).items())[:k]
        by_id = {d.id: d for d in ranked}
        hits = self.retriever.hits(read, [c for doc_id, _ in shown for c in by_id[doc_id].chunks])
        groups: dict[int, DocumentHits] = {}
        for hit in hits:
            group = groups.setdefault(
                hit.document.id, DocumentHits(document=hit.document, score=hit.score, hits=[]))
            group.hits.append(hit)
        folded = dict(shown)
        summaries = self.store.document_summaries([i for ids in folded.values() for i in ids])
        for doc_id, group in groups.items():
            group.also_in = [summaries[i] for i in folded[doc_id] if i in summaries]
        return list(groups.values())

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

    def bridge_map(self, offices: frozenset[str] | None = None) -> BridgeMap:
        """The map of the published generation over ``offices`` (casefolded; None: all).

        Drawn once per generation and set of offices, then kept.
        """
        generation = self.generation()
        with self._map_lock:
            drawn = self._maps.get(offices)
            if drawn is None or drawn.generation != generation.number:
                drawn = self._maps[offices] = MapBuilder(
                    self.settings, self.store.lexical.analyzer).build(
                    generation.number, self._map_chunks(generation, offices))
            return drawn

    def _map_chunks(self, generation: Generation, offices: frozenset[str] | None) -> MapChunks:
        with self.store.connect() as db:
            rows = [r for r in self.store.office_chunks(db, self.settings.bridge_min_tokens)
                    if offices is None or r["office"].casefold() in offices]
            if len(rows) > self.settings.map_sample_chunks:
                picks = np.linspace(0, len(rows) - 1, self.settings.map_sample_chunks)
                rows = [rows[int(i)] for i in picks]
            stored = self.store.chunk_vectors(db, [r["id"] for r in rows],
                                              self.encoder.model_id, self.encoder.dimension)
        by_id = {r["id"]: r for r in rows}
        rows = [by_id[int(i)] for i in stored.ids]  # both in id order, minus any gone
        return MapChunks(ids=stored.ids, offices=[r["office"] for r in rows],
                         documents=[r["document_id"] for r in rows],
                         languages=[r["language"] for r in rows], texts=[r["text"] for r in rows],
                         vectors=generation.offsets.center(stored.vectors, stored.languages))

    def bridges(self, query: BridgeQuery) -> BridgeResult:
        """The closest findings of the other offices; ``LookupError`` for an unknown source.
        One generation per query (see ``search``)."""
        with self.store.snapshot():
            return self.bridger.bridge(query)

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
