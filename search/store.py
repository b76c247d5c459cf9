"""The SQLite database: documents, paths, chunks, cached vectors, keyword terms, runs.

SQLite is the embedded database: one file, transactions, WAL so readers never
wait for the writer. A document is one distinct content (unique content hash);
``paths`` points every file path that holds it at it, so a copy is stored once
and a move only re-points a path. Chunk ids are AUTOINCREMENT so an id is never
reused and a stale vector can never point at a different chunk. Raw vectors
live in ``embeddings``, keyed by (model, chunk text hash): the embedding cache
that lets an unchanged text skip the model, and the source the vector index is
rebuilt (re-centred) from. The keyword index (``search.lexical``) is written in
the same transactions as the chunks. ``meta`` records the schema version, the
model id and dimension, and the published index generation; ``runs`` keeps
every ingest and re-index run with its report.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from search import duplicates, path_names
from search.lexical import Analyzer, LexicalIndex
from search.public_ids import IdCodec
from search.records import (
    Chunk,
    Document,
    DocumentMeta,
    DocumentSummary,
    FileStat,
    Filters,
    NewChunk,
    Provenance,
    RunRecord,
    RunReport,
)
from search.sql import NO_FILTER, batches, get_meta, placeholders

SCHEMA_VERSION = "2"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    content_hash TEXT NOT NULL UNIQUE,
    source_path TEXT NOT NULL,
    title TEXT NOT NULL,
    office TEXT, region TEXT, team TEXT,
    doc_type TEXT NOT NULL,
    language TEXT, author TEXT, date TEXT,
    n_chunks INTEGER NOT NULL,
    ingested_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS paths (
    source_path TEXT PRIMARY KEY,
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    size INTEGER, mtime_ns INTEGER, source TEXT
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    language TEXT,
    provenance TEXT NOT NULL,
    n_tokens INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS embeddings (
    model_id TEXT NOT NULL, text_hash TEXT NOT NULL, vector BLOB NOT NULL,
    PRIMARY KEY (model_id, text_hash)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL, trigger TEXT NOT NULL, status TEXT NOT NULL, pid INTEGER,
    started_at TEXT NOT NULL, finished_at TEXT,
    files_total INTEGER, files_done INTEGER NOT NULL DEFAULT 0,
    report TEXT, error TEXT
);
CREATE INDEX IF NOT EXISTS chunks_document ON chunks(document_id, ordinal);
CREATE INDEX IF NOT EXISTS chunks_text_hash ON chunks(text_hash);
CREATE INDEX IF NOT EXISTS paths_document ON paths(document_id);
CREATE INDEX IF NOT EXISTS documents_office ON documents(office COLLATE NOCASE);
"""


class SchemaError(RuntimeError):
    """The data directory was written by an incompatible version."""


# Filter field -> SQL column on ``documents d``; every filter applies to documents.
_FILTER_COLUMNS = {"office": "d.office", "region": "d.region", "doc_type": "d.doc_type",
                   "language": "d.language"}


def filter_sql(filters: Filters | None) -> tuple[str, list[Any]]:
    """A ``WHERE`` clause over ``documents d`` (or ``1``) and its parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    if filters is not None:
        for field, column in _FILTER_COLUMNS.items():
            values = getattr(filters, field)
            if values:
                clauses.append(f"lower({column}) IN ({','.join('?' * len(values))})")
                params.extend(str(v).lower() for v in values)
        if filters.date_from:
            clauses.append("d.date >= ?")
            params.append(filters.date_from.isoformat())
        if filters.date_to:
            clauses.append("d.date <= ?")
            params.append(filters.date_to.isoformat())
    return (" AND ".join(clauses) or NO_FILTER), params


def _by_id(db: sqlite3.Connection, select: str, ids: list[int]) -> dict[int, Any]:
    """Id -> value for ``select`` (``SELECT id, value FROM table``) over these ids, in
    batches under SQLite's parameter limit; ids no longer stored are absent.

    Rows come as plain tuples (the cursor drops the connection's ``sqlite3.Row``): a
    search looks up hundreds of ids this way, and tuples fetch a quarter faster.
    """
    cursor = db.cursor()
    cursor.row_factory = None
    found: dict[int, Any] = {}
    for batch in batches(ids):
        found.update(cursor.execute(f"{select} WHERE id IN ({placeholders(batch)})", batch))
    return found


def text_hash(text: str) -> str:
    """The key of a chunk's embedding in the cache: same text, same vector."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


class StoredVectors(NamedTuple):
    """Chunk ids with their languages and raw vectors."""

    ids: np.ndarray
    languages: list[str | None]
    vectors: np.ndarray


class PathState(NamedTuple):
    """What the database knows of one file path: its document and the file's stat."""

    document_id: int
    content_hash: str
    size: int | None
    mtime_ns: int | None


def _stored_vectors(rows: list[sqlite3.Row], dimension: int) -> StoredVectors:
    vectors = np.frombuffer(b"".join(r["vector"] for r in rows), dtype=np.float32)
    return StoredVectors(np.array([r["id"] for r in rows], dtype=np.int64),
                         [r["language"] for r in rows], vectors.reshape(len(rows), dimension))


def _document(row: sqlite3.Row, paths: list[str] | None = None) -> Document:
    return Document.model_validate({**dict(row), "paths": paths or [row["source_path"]]})


def _chunk(row: sqlite3.Row) -> Chunk:
    data = dict(row)
    data["provenance"] = Provenance.model_validate_json(data["provenance"])
    return Chunk.model_validate(data)


def _run(row: sqlite3.Row) -> RunRecord:
    data = dict(row)
    data["report"] = RunReport.model_validate_json(data["report"]) if data["report"] else None
    return RunRecord.model_validate(data)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


_CHUNK_VECTORS = ("SELECT c.id, c.language, e.vector FROM chunks c JOIN embeddings e"
                  " ON e.text_hash = c.text_hash AND e.model_id = ?")


class _IdleConnections(threading.local):
    """This thread's open connections not in use (SQLite connections stay in their thread),
    and the one its current snapshot reads through, if any."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.connections: list[sqlite3.Connection] = []
        self.pinned: sqlite3.Connection | None = None


class Store:
    """Typed access to the database; one transaction per use, on a reused connection."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._idle = _IdleConnections()
        self._codec: IdCodec | None = None
        self.lexical = LexicalIndex(Analyzer())
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            self._check_schema(db)
            db.executescript(SCHEMA)
            self.lexical.ensure_schema(db)
            duplicates.ensure_schema(db)
            path_names.ensure_schema(db)
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                       (SCHEMA_VERSION,))
            db.commit()
        finally:
            db.close()

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every ``connect`` of this thread inside the block reads one snapshot of the
        database: a read transaction held until the block ends, so that a publish
        meanwhile changes nothing the block reads (in WAL mode a reader never holds up the
        writer). Only for reading; a nested snapshot is the outer one."""
        if self._idle.pinned is not None:
            yield
            return
        with self.connect() as db:
            db.execute("SELECT value FROM meta LIMIT 1").fetchall()  # the snapshot starts here
            self._idle.pinned = db
            try:
                yield
            finally:
                self._idle.pinned = None

    def _check_schema(self, db: sqlite3.Connection) -> None:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "documents" not in tables:
            return
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if (row[0] if row else "1") != SCHEMA_VERSION:
            raise SchemaError(
                f"{self.path} was written by an older Knowledge Bridge (schema "
                f"{row[0] if row else 1}, this version needs {SCHEMA_VERSION}); ingest again "
                "into a new BRIDGE_DATA_DIR (or delete this one)")

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys=ON")
        return db

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection inside one transaction: committed on success, else rolled back.

        Connections are kept per thread and reused once their transaction has ended:
        opening one (file, schema, pragmas) cost as much as the lookups of a search.
        A nested ``connect`` gets a connection of its own, as before; a forked child
        opens its own, never its parent's.
        """
        idle = self._idle
        if idle.pid != os.getpid():
            idle.pid, idle.connections, idle.pinned = os.getpid(), [], None
        if idle.pinned is not None:  # inside ``snapshot``: its read transaction, as it is
            yield idle.pinned
            return
        db = idle.connections.pop() if idle.connections else self._open()
        try:
            db.execute("BEGIN")
            yield db
            db.execute("COMMIT")
        except BaseException:
            with suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise
        finally:
            if db.in_transaction:  # neither committed nor rolled back: never reuse it
                db.close()
            else:
                idle.connections.append(db)

    # --- embedding cache --------------------------------------------------------
    def cached_vectors(self, model_id: str, hashes: list[str]) -> dict[str, np.ndarray]:
        """Raw vectors already computed by ``model_id`` for these chunk text hashes."""
        found: dict[str, np.ndarray] = {}
        with self.connect() as db:
            for batch in batches(sorted(set(hashes))):
                rows = db.execute(
                    f"SELECT text_hash, vector FROM embeddings WHERE model_id = ?"
                    f" AND text_hash IN ({placeholders(batch)})", [model_id, *batch])
                found.update((r[0], np.frombuffer(r[1], dtype=np.float32)) for r in rows)
        return found

    @staticmethod
    def save_vectors(db: sqlite3.Connection, model_id: str, hashes: list[str],
                     vectors: np.ndarray) -> None:
        db.executemany(
            "INSERT OR IGNORE INTO embeddings(model_id, text_hash, vector) VALUES (?, ?, ?)",
            [(model_id, h, np.asarray(v, dtype=np.float32).tobytes())
             for h, v in zip(hashes, vectors, strict=True)])

    @staticmethod
    def prune_vectors(db: sqlite3.Connection) -> int:
        """Forget cached vectors no chunk uses any more; returns how many."""
        return db.execute("DELETE FROM embeddings WHERE NOT EXISTS (SELECT 1 FROM chunks c"
                          " WHERE c.text_hash = embeddings.text_hash)").rowcount

    # --- paths ------------------------------------------------------------------
    def known_paths(self, root: str) -> dict[str, PathState]:
        """Every stored path equal to ``root`` or under it (``root`` is resolved)."""
        with self.connect() as db:
            rows = db.execute(
                "SELECT p.source_path, p.document_id, d.content_hash, p.size, p.mtime_ns"
                " FROM paths p JOIN documents d ON d.id = p.document_id"
                " WHERE p.source_path = ? OR (p.source_path >= ? AND p.source_path < ?)",
                (root, root.rstrip("/") + "/", root.rstrip("/") + "0")).fetchall()
        return {r[0]: PathState(*r[1:]) for r in rows}

    @staticmethod
    def document_id_by_hash(db: sqlite3.Connection, digest: str) -> int | None:
        row = db.execute("SELECT id FROM documents WHERE content_hash = ?", (digest,)).fetchone()
        return row[0] if row else None

    @staticmethod
    def link_path(db: sqlite3.Connection, source_path: str, document_id: int,
                  stat: FileStat | None, source: str | None) -> int | None:
        """Point ``source_path`` at a document; returns the document it pointed at before."""
        before = Store.unlink_path(db, source_path)
        db.execute("INSERT INTO paths(source_path, document_id, size, mtime_ns, source)"
                   " VALUES (?, ?, ?, ?, ?)",
                   (source_path, document_id, stat.size if stat else None,
                    stat.mtime_ns if stat else None, source))
        return before

    @staticmethod
    def unlink_path(db: sqlite3.Connection, source_path: str) -> int | None:
        row = db.execute("DELETE FROM paths WHERE source_path = ? RETURNING document_id",
                         (source_path,)).fetchone()
        return row[0] if row else None

    def id_codec(self) -> IdCodec:
        """The codec of the ids shown to API clients, keyed by this database's own secret
        (made at first use; ``search.public_ids``)."""
        if self._codec is None:
            with self.connect() as db:
                secret = get_meta(db, "public_id_secret")
                if secret is None:
                    secret = secrets.token_hex(32)
                    db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES"
                               " ('public_id_secret', ?)", (secret,))
                    secret = get_meta(db, "public_id_secret") or secret
            self._codec = IdCodec(bytes.fromhex(secret))
        return self._codec

    def remember_root(self, root: str, shown: str) -> None:
        """Name ``root`` and the files below it for readers (``search.path_names``)."""
        with self.connect() as db:
            path_names.remember(db, root, shown)

    def path_namer(self) -> path_names.PathNamer:
        with self.connect() as db:
            return path_names.namer(db)

    def touch_path(self, source_path: str, stat: FileStat) -> None:
        """Record a new stat for a file whose content did not change."""
        with self.connect() as db:
            db.execute("UPDATE paths SET size = ?, mtime_ns = ? WHERE source_path = ?",
                       (stat.size, stat.mtime_ns, source_path))

    # --- documents and chunks -----------------------------------------------------
    @staticmethod
    def insert_document(db: sqlite3.Connection, meta: DocumentMeta, n_chunks: int) -> int:
        row = meta.model_dump(mode="json", context=path_names.AS_STORED)
        row.update(n_chunks=n_chunks, ingested_at=_now())
        cur = db.execute(
            f"INSERT INTO documents({','.join(row)}) VALUES ({placeholders(list(row))})",
            list(row.values()),
        )
        return int(cur.lastrowid)

    @staticmethod
    def update_document(db: sqlite3.Connection, document_id: int, meta: DocumentMeta,
                        n_chunks: int | None = None) -> None:
        """New metadata for stored content (a moved or re-read file)."""
        row = meta.model_dump(mode="json", exclude={"content_hash"},
                               context=path_names.AS_STORED)
        if n_chunks is not None:
            row.update(n_chunks=n_chunks, ingested_at=_now())
        db.execute(f"UPDATE documents SET {', '.join(f'{k} = ?' for k in row)} WHERE id = ?",
                   [*row.values(), document_id])

    def insert_chunks(self, db: sqlite3.Connection, document_id: int, language: str | None,
                      chunks: list[NewChunk], vectors: np.ndarray, model_id: str) -> list[int]:
        """Store a document's chunks, their raw vectors and their keyword terms.

        Returns the chunk ids (also their vector ids).
        """
        hashes = [text_hash(c.text) for c in chunks]
        Store.save_vectors(db, model_id, hashes, vectors)
        ids = []
        for ordinal, (chunk, digest) in enumerate(zip(chunks, hashes, strict=True)):
            cur = db.execute(
                "INSERT INTO chunks(document_id, ordinal, text, text_hash, language, provenance,"
                " n_tokens) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (document_id, ordinal, chunk.text, digest, chunk.language or language,
                 json.dumps(chunk.provenance.as_dict()), chunk.n_tokens),
            )
            ids.append(int(cur.lastrowid))
        self.lexical.add(db, [(i, c.text, c.language or language)
                              for i, c in zip(ids, chunks, strict=True)])
        return ids

    def delete_chunks(self, db: sqlite3.Connection, document_ids: list[int]) -> list[int]:
        """Delete these documents' chunks from the database and the keyword index.

        Returns their ids, for the vector index.
        """
        removed: list[int] = []
        for batch in batches(document_ids):
            ids = [r[0] for r in db.execute(
                f"SELECT id FROM chunks WHERE document_id IN ({placeholders(batch)})", batch)]
            self.lexical.delete(db, ids)
            db.execute(f"DELETE FROM chunks WHERE document_id IN ({placeholders(batch)})",
                       batch)
            removed += ids
        return removed

    def delete_orphans(self, db: sqlite3.Connection, document_ids: set[int]) -> list[int]:
        """Delete those documents no path names any more; returns their chunks' ids."""
        orphans = [i for i in sorted(document_ids) if db.execute(
            "SELECT 1 FROM paths WHERE document_id = ? LIMIT 1", (i,)).fetchone() is None]
        removed = self.delete_chunks(db, orphans)
        for batch in batches(orphans):
            db.execute(f"DELETE FROM documents WHERE id IN ({placeholders(batch)})", batch)
        return removed

    @staticmethod
    def all_vectors(db: sqlite3.Connection, model_id: str, dimension: int) -> StoredVectors:
        rows = db.execute(f"{_CHUNK_VECTORS} ORDER BY c.id", (model_id,)).fetchall()
        return _stored_vectors(rows, dimension)

    # --- reads ----------------------------------------------------------------
    @staticmethod
    def chunk_vectors(db: sqlite3.Connection, ids: list[int], model_id: str,
                      dimension: int) -> StoredVectors:
        """The raw vectors of these chunks (those still stored), in id order."""
        rows: list[sqlite3.Row] = []
        for batch in batches(sorted(ids)):
            rows += db.execute(f"{_CHUNK_VECTORS} WHERE c.id IN ({placeholders(batch)})"
                               " ORDER BY c.id", [model_id, *batch]).fetchall()
        return _stored_vectors(rows, dimension)

    @staticmethod
    def office_chunks(db: sqlite3.Connection, min_tokens: int) -> list[sqlite3.Row]:
        """Chunks of documents with an office, by id: those ``min_tokens`` long or more,
        and the only chunk of a document whatever its length."""
        return db.execute(
            "SELECT c.id, d.office, c.document_id, c.language, c.text FROM chunks c"
            " JOIN documents d ON d.id = c.document_id"
            " WHERE d.office IS NOT NULL AND (c.n_tokens >= ? OR d.n_chunks = 1) ORDER BY c.id",
            (min_tokens,)).fetchall()

    def facet_counts(self, filters: Filters | None,
                     fields: list[str]) -> dict[str, Counter[str]]:
        """Documents passing ``filters`` counted per value of each field (office, region,
        doc_type, language): one grouped query, cheap at any corpus size."""
        where, params = filter_sql(filters)
        columns = [_FILTER_COLUMNS[f] for f in fields]
        counts: dict[str, Counter[str]] = {f: Counter() for f in fields}
        with self.connect() as db:
            for row in db.execute(f"SELECT {', '.join(columns)}, count(*) FROM documents d"
                                  f" WHERE {where} GROUP BY {', '.join(columns)}", params):
                for field, value in zip(fields, row, strict=False):
                    if value is not None:
                        counts[field][value] += row[-1]
        return counts

    def document_chunk_ids(self, document_id: int) -> list[int]:
        with self.connect() as db:
            return [r[0] for r in db.execute(
                "SELECT id FROM chunks WHERE document_id = ? ORDER BY ordinal", (document_id,))]

    @staticmethod
    def office_chunk_ids(db: sqlite3.Connection) -> dict[str, np.ndarray]:
        """Each office (as first written; matched ignoring case) -> its chunk ids.

        Chunks of documents without an office belong to no office.
        """
        offices: dict[str, tuple[str, list[int]]] = {}
        for office, chunk_id in db.execute(
                "SELECT d.office, c.id FROM chunks c JOIN documents d ON d.id = c.document_id"
                " WHERE d.office IS NOT NULL ORDER BY d.id, c.id"):
            offices.setdefault(office.casefold(), (office, []))[1].append(chunk_id)
        return {name: np.array(ids, dtype=np.int64) for name, ids in offices.values()}

    @staticmethod
    def filtered_chunk_ids(db: sqlite3.Connection, where: str, params: list[Any]) -> list[int]:
        """Ids of every chunk whose document passes a ``filter_sql`` clause."""
        return [r[0] for r in db.execute(
            f"SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id"
            f" WHERE {where}", params)]

    def chunk_documents(self, ids: list[int]) -> dict[int, int]:
        """Chunk id -> its document's id, for the chunks still stored."""
        with self.connect() as db:
            return _by_id(db, "SELECT id, document_id FROM chunks", ids)

    def source_paths(self, ids: list[int]) -> dict[int, str]:
        """Document id -> its source path, for the documents still stored."""
        with self.connect() as db:
            return _by_id(db, "SELECT id, source_path FROM documents", ids)

    @staticmethod
    def chunk_languages(db: sqlite3.Connection, ids: list[int]) -> dict[int, str | None]:
        return _by_id(db, "SELECT id, language FROM chunks", ids)

    def chunks_by_id(self, ids: list[int]) -> dict[int, tuple[Chunk, Document]]:
        if not ids:
            return {}
        with self.connect() as db:
            rows = db.execute(
                f"SELECT c.*, d.id AS d_id FROM chunks c JOIN documents d ON d.id = c.document_id"
                f" WHERE c.id IN ({placeholders(ids)})", ids).fetchall()
            doc_ids = sorted({r["d_id"] for r in rows})
            docs = {r["id"]: _document(r) for r in db.execute(
                f"SELECT * FROM documents WHERE id IN ({placeholders(doc_ids)})", doc_ids)}
        return {r["id"]: (_chunk(r), docs[r["d_id"]]) for r in rows}

    def document_summaries(self, ids: list[int]) -> dict[int, DocumentSummary]:
        """Document id -> its summary, for those still stored."""
        summaries: dict[int, DocumentSummary] = {}
        with self.connect() as db:
            for batch in batches(sorted(set(ids))):
                summaries.update((r["id"], DocumentSummary.model_validate(dict(r)))
                                 for r in db.execute(f"SELECT * FROM documents WHERE id IN"
                                                     f" ({placeholders(batch)})", batch))
        return summaries

    @staticmethod
    def _paths(db: sqlite3.Connection, doc_ids: list[int]) -> dict[int, list[str]]:
        paths: dict[int, list[str]] = {}
        for row in db.execute(
                f"SELECT document_id, source_path FROM paths WHERE document_id IN"
                f" ({placeholders(doc_ids)}) ORDER BY source_path", doc_ids):
            paths.setdefault(row[0], []).append(row[1])
        return paths

    def documents(
        self, filters: Filters | None, limit: int, offset: int
    ) -> tuple[list[Document], int]:
        """A page of documents (newest first) and the total that pass ``filters``."""
        where, params = filter_sql(filters)
        with self.connect() as db:
            total = db.execute(f"SELECT count(*) FROM documents d WHERE {where}", params)
            total = total.fetchone()[0]
            rows = db.execute(
                f"SELECT d.* FROM documents d WHERE {where}"
                f" ORDER BY d.date DESC, d.id LIMIT ? OFFSET ?", [*params, limit, offset]
            ).fetchall()
            paths = self._paths(db, [r["id"] for r in rows])
            return [_document(r, paths.get(r["id"])) for r in rows], total

    def document(self, doc_id: int) -> tuple[Document, list[Chunk]] | None:
        with self.connect() as db:
            row = db.execute("SELECT * FROM documents WHERE id = ?", (doc_id,)).fetchone()
            if row is None:
                return None
            chunks = db.execute(
                "SELECT * FROM chunks WHERE document_id = ? ORDER BY ordinal", (doc_id,))
            return (_document(row, self._paths(db, [doc_id]).get(doc_id)),
                    [_chunk(c) for c in chunks])

    def counts(self) -> dict[str, Any]:
        """Totals for ``status``: documents, chunks, and documents per office and language."""
        with self.connect() as db:
            docs = db.execute("SELECT count(*) FROM documents").fetchone()[0]
            chunks = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
            paths = db.execute("SELECT count(*) FROM paths").fetchone()[0]
            per = {
                col: dict(db.execute(
                    f"SELECT coalesce({col}, '?'), count(*) FROM documents GROUP BY 1 ORDER BY 1"
                ).fetchall())
                for col in ("office", "language", "doc_type")
            }
        return {"documents": docs, "paths": paths, "chunks": chunks,
                **{f"by_{k}": v for k, v in per.items()}}

    # --- runs ---------------------------------------------------------------------
    def start_run(self, kind: str, trigger: str) -> int:
        """Record a run that now holds the write lock; any run still "running" died."""
        with self.connect() as db:
            db.execute("UPDATE runs SET status = 'interrupted', finished_at = ?"
                       " WHERE status = 'running'", (_now(),))
            cur = db.execute("INSERT INTO runs(kind, trigger, status, pid, started_at)"
                             " VALUES (?, ?, 'running', ?, ?)", (kind, trigger, os.getpid(),
                                                                _now()))
            return int(cur.lastrowid)

    def run_progress(self, run_id: int, done: int, total: int) -> None:
        with self.connect() as db:
            db.execute("UPDATE runs SET files_done = ?, files_total = ? WHERE id = ?",
                       (done, total, run_id))

    def finish_run(self, run_id: int, report: RunReport | None, error: str | None) -> None:
        with self.connect() as db:
            db.execute(
                "UPDATE runs SET status = ?, finished_at = ?, report = ?, error = ? WHERE id = ?",
                ("failed" if error else "finished", _now(),
                 report.model_dump_json() if report else None, error, run_id))

    def runs(self, limit: int = 20, offset: int = 0) -> list[RunRecord]:
        with self.connect() as db:
            rows = db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ? OFFSET ?",
                              (limit, offset)).fetchall()
        return [_run(r) for r in rows]

    def run(self, run_id: int) -> RunRecord | None:
        with self.connect() as db:
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return _run(row) if row else None
