"""The single writer of a data directory: its lock, and publishing writes as one generation.

Writes collect in a ``Writer`` and become visible together: a publish stores the rows, writes
the next index generation and names it in one SQLite transaction (``search.generations``).
One process at a time may write; the lock says who holds it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np

from search.centering import measure_offsets, offsets_key
from search.chunks import delete_chunks, insert_chunks
from search.database import Database
from search.documents import (
    delete_documents,
    document_id_by_hash,
    insert_document,
    link_path,
    orphans,
    unlink_path,
    update_document,
)
from search.embedding import Encoder
from search.embedding_cache import all_vectors, save_vectors, text_hash
from search.generations import GENERATION_META, OFFSETS_META, Generation, GenerationFiles
from search.lexical import StoredTerms
from search.near_duplicates import (
    SEARCHED_META,
    NearDuplicateRules,
    confirm_document_near_duplicates,
    find_chunk_near_duplicates,
)
from search.records import DocumentMeta, FileStat, NewChunk
from search.settings import Settings
from search.sql import get_meta, set_meta
from search.watch_matching import match_new_chunks
from search.word_vectors import WordVectorWriter

log = logging.getLogger(__name__)

_LOCK_POLL_S = 0.2  # how often a waiting writer tries the lock again


class WriterBusyError(RuntimeError):
    """Another run holds this data directory's write lock. The message says since when; the
    holder's process id (``pid``) is for the operator's command line, never for clients."""

    def __init__(self, since: str, pid: int | None) -> None:
        super().__init__(f"a re-index is already running since {since}; try again when it "
                         "has finished")
        self.pid = pid


def _holder(lock: IO[str]) -> dict:
    lock.seek(0)
    try:
        return json.loads(lock.read() or "{}")
    except json.JSONDecodeError:
        return {}


def _busy(lock: IO[str]) -> WriterBusyError:
    holder = _holder(lock)
    pid = holder.get("pid")
    return WriterBusyError(str(holder.get("since", "?")), pid if isinstance(pid, int) else None)


def _take_over(lock: IO[str]) -> None:
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


@contextmanager
def write_lock(data_dir: Path, wait_s: float = 0.0) -> Iterator[None]:
    """Hold the data directory's write lock for the block.

    The lock is an ``flock`` on ``write.lock``: the kernel drops it when its process dies, so
    a lock left by a killed run is simply taken over. The file names the holder so that a
    second writer can say who is at work. A writer that finds it held waits up to ``wait_s``
    for it, then raises ``WriterBusyError``.
    """
    deadline = time.monotonic() + wait_s
    with open(data_dir / "write.lock", "a+") as lock:
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
            yield
        finally:
            lock.truncate(0)


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
    added_terms: list[tuple[int, str]] = field(default_factory=list)
    removed_ids: list[int] = field(default_factory=list)


class Writer:
    """Collects document writes and publishes them as one new index generation.

    A document is one distinct content; paths point at it. ``put`` stores new
    content under a path, ``link`` points a path at content already stored (a
    moved or duplicated file), ``delete`` forgets a path. Content no path names
    any more leaves the database and every index in the same publish.
    """

    def __init__(self, settings: Settings, database: Database, terms: StoredTerms,
                 files: GenerationFiles, encoder: Encoder) -> None:
        self.settings = settings
        self.database = database
        self.terms = terms
        self.files = files
        self.encoder = encoder
        self.rules = NearDuplicateRules(settings.duplicate_similarity,
                                        settings.duplicate_coverage)
        self.words = WordVectorWriter(encoder, terms.analyzer, settings.store_word_vectors)
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

    def words_behind(self) -> bool:
        """Whether a publish is due for the stored chunks' words alone
        (``search.word_vectors``)."""
        with self.database.connect() as db:
            return self.words.behind(db)

    def publish(self) -> int:
        """Make every pending write visible at once; returns the published generation.

        The generation number only moves when the vectors changed: a publish of
        moves and metadata alone keeps serving the same index file. The new chunks' words
        are embedded before the write transaction starts, so it stays short; the watches
        they match are alerted inside it (``search.watch_matching``).
        """
        with self.database.connect() as db:
            words, word_vectors = self.words.new_words(
                db, ((c.text, c.language or put.meta.language)
                     for put in self._puts.values() for c in put.chunks))
        with self.database.connect() as db:
            self.words.save(db, words, word_vectors)
            live = self.files.load(db)
            changes = _Changes()
            unnamed: set[int] = set()  # documents a path pointed at until now
            for put in self._puts.values():
                unnamed |= self._apply_put(db, put, changes)
            for link in self._links:
                unnamed |= self._apply_link(db, link)
            for source_path in self._deletes:
                unnamed.add(unlink_path(db, source_path) or 0)
            gone = orphans(db, unnamed - {0})
            changes.removed_ids += self._delete_chunks(db, gone)
            delete_documents(db, gone)
            published = self._publish_vectors(db, live, changes)
            self.terms.mark_changed(db)
            if published.number != live.number:
                self._find_near_duplicates(db, published, changes)
            if changes.added_ids:
                match_new_chunks(db, published.offsets, changes.added_ids,
                                 np.concatenate(changes.added_vectors), changes.added_languages)
        self._puts, self._links, self._deletes = {}, [], []
        self.files.announce(published.number)
        self.files.prune(published.number)
        return published.number

    def _apply_put(self, db: sqlite3.Connection, put: _Put, changes: _Changes) -> set[int]:
        doc_id = document_id_by_hash(db, put.meta.content_hash)
        store_chunks = doc_id is None or put.replace  # else only the path is new
        if doc_id is None:
            doc_id = insert_document(db, put.meta, len(put.chunks))
        elif put.replace:
            changes.removed_ids += self._delete_chunks(db, [doc_id])
            update_document(db, doc_id, put.meta, len(put.chunks))
        if store_chunks and put.chunks:
            changes.added_ids += self._insert_chunks(db, doc_id, put, changes)
            changes.added_languages += [c.language or put.meta.language for c in put.chunks]
            changes.added_vectors.append(put.vectors)
        previous = link_path(db, put.meta.source_path, doc_id, put.stat, put.source)
        return {previous} if previous not in (None, doc_id) else set()

    def _apply_link(self, db: sqlite3.Connection, link: _Link) -> set[int]:
        doc_id = document_id_by_hash(db, link.content_hash)
        if doc_id is None:
            raise LookupError(f"no stored content {link.content_hash} for {link.source_path}")
        previous = link_path(db, link.source_path, doc_id, link.stat, link.source)
        if link.meta is not None:
            update_document(db, doc_id, link.meta)
        return {previous} if previous not in (None, doc_id) else set()

    def _insert_chunks(self, db: sqlite3.Connection, doc_id: int, put: _Put,
                       changes: _Changes) -> list[int]:
        """Store a document's chunks with their raw vectors and keyword terms (noted in
        ``changes`` for the keyword index); returns their ids (also their vectors' ids)."""
        hashes = [text_hash(c.text) for c in put.chunks]
        save_vectors(db, self.encoder.model_id, hashes, put.vectors)
        ids = insert_chunks(db, doc_id, put.meta.language, put.chunks, hashes)
        changes.added_terms += self.terms.add(db, [(i, c.text, c.language or put.meta.language)
                                                   for i, c in zip(ids, put.chunks,
                                                                   strict=True)])
        return ids

    def _delete_chunks(self, db: sqlite3.Connection, doc_ids: list[int]) -> list[int]:
        """Delete these documents' chunks and their keyword terms; returns their ids, for
        the vector index."""
        removed = delete_chunks(db, doc_ids)
        self.terms.delete(db, removed)
        return removed

    def _publish_vectors(self, db: sqlite3.Connection, live: Generation,
                         changes: _Changes) -> Generation:
        """Apply the changes to the indexes; write a generation if the chunks moved.

        The whole index is rebuilt from the raw vectors when its language offsets are
        stale (see ``search.centering``) or when an exact index outgrows its limit (it is
        rebuilt approximate).
        """
        index = live.index
        if changes.removed_ids:
            index.delete(np.array(changes.removed_ids, np.int64))
        centering = self.settings.language_centering
        stale = live.offsets.key != offsets_key(self.encoder.model_id, centering)
        if not changes.added_ids and not changes.removed_ids and not stale:
            return live
        outgrown = index.exact and len(index) + len(changes.added_ids) > \
            self.settings.index_exact_limit
        offsets = (measure_offsets(self.encoder, centering, self.settings.cache_dir) if stale
                   else live.offsets)
        if stale or outgrown:
            stored = all_vectors(db, self.encoder.model_id, self.encoder.dimension)
            index = self.files.new_index(len(stored.ids))
            index.add(stored.ids, offsets.center(stored.vectors, stored.languages))
        elif changes.added_ids:
            index.add(np.array(changes.added_ids, np.int64),
                      offsets.center(np.concatenate(changes.added_vectors),
                                     changes.added_languages))
        number = live.number + 1
        self.files.write(index, number)
        keywords = self.files.write_keywords(live.number, number, changes.removed_ids,
                                             changes.added_terms)
        set_meta(db, GENERATION_META, str(number))
        set_meta(db, OFFSETS_META, offsets.to_json())
        return Generation(number, index, keywords, offsets)

    def _find_near_duplicates(self, db: sqlite3.Connection, published: Generation,
                              changes: _Changes) -> None:
        """Range-search the new chunks for near-duplicates (all chunks, the first time)."""
        if get_meta(db, SEARCHED_META):
            if not changes.added_ids:
                return
            ids = np.array(changes.added_ids, np.int64)
            vectors = published.offsets.center(np.concatenate(changes.added_vectors),
                                               changes.added_languages)
        else:
            stored = all_vectors(db, self.encoder.model_id, self.encoder.dimension)
            ids, vectors = stored.ids, published.offsets.center(stored.vectors,
                                                                stored.languages)
        affected = find_chunk_near_duplicates(db, published.index, ids, vectors, self.rules)
        confirm_document_near_duplicates(db, affected, self.rules)
        set_meta(db, SEARCHED_META, "1")
