"""The SQLite database: documents, chunks and the facts of the index beside them.

SQLite is the embedded database: one file, transactions, WAL so readers never
wait for the writer. Chunk ids are AUTOINCREMENT so an id is never reused and a
stale vector can never point at a different chunk. The ``meta`` table records
the model id and dimension of the vectors and the published index generation.
Each chunk keeps its raw vector, so the index can be rebuilt (re-centred, or
with another index type) without embedding anything again.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from search.records import Chunk, Document, DocumentMeta, Filters, NewChunk, Provenance

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source_path TEXT NOT NULL UNIQUE,
    content_hash TEXT NOT NULL,
    title TEXT NOT NULL,
    office TEXT, region TEXT, team TEXT,
    doc_type TEXT NOT NULL,
    language TEXT, author TEXT, date TEXT,
    n_chunks INTEGER NOT NULL,
    ingested_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    language TEXT,
    provenance TEXT NOT NULL,
    n_tokens INTEGER NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_document ON chunks(document_id, ordinal);
CREATE INDEX IF NOT EXISTS documents_office ON documents(office COLLATE NOCASE);
"""

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
    return (" AND ".join(clauses) or "1"), params


class StoredVectors(NamedTuple):
    """Chunk ids with their languages and raw vectors."""

    ids: np.ndarray
    languages: list[str | None]
    vectors: np.ndarray


def _stored_vectors(rows: list[sqlite3.Row], dimension: int) -> StoredVectors:
    vectors = np.frombuffer(b"".join(r["vector"] for r in rows), dtype=np.float32)
    return StoredVectors(np.array([r["id"] for r in rows], dtype=np.int64),
                         [r["language"] for r in rows], vectors.reshape(len(rows), dimension))


def _document(row: sqlite3.Row) -> Document:
    return Document.model_validate(dict(row))


def _chunk(row: sqlite3.Row) -> Chunk:
    data = dict(row)
    data.pop("vector", None)
    data["provenance"] = Provenance.model_validate_json(data["provenance"])
    return Chunk.model_validate(data)


class Store:
    """Typed access to the database; one short-lived connection per use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
        finally:
            db.close()

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection inside one transaction: committed on success, else rolled back."""
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys=ON")
        try:
            db.execute("BEGIN")
            yield db
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    # --- meta -----------------------------------------------------------------
    @staticmethod
    def get_meta(db: sqlite3.Connection, key: str) -> str | None:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    @staticmethod
    def set_meta(db: sqlite3.Connection, key: str, value: str) -> None:
        db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # --- writes ---------------------------------------------------------------
    @staticmethod
    def delete_document(db: sqlite3.Connection, source_path: str, dimension: int) -> StoredVectors:
        """Remove a document and its chunks; returns what the removed chunks were."""
        rows = db.execute(
            "SELECT c.id, c.language, c.vector FROM chunks c JOIN documents d"
            " ON d.id = c.document_id WHERE d.source_path = ?", (source_path,)).fetchall()
        db.execute("DELETE FROM documents WHERE source_path = ?", (source_path,))
        return _stored_vectors(rows, dimension)

    @staticmethod
    def all_vectors(db: sqlite3.Connection, dimension: int) -> StoredVectors:
        rows = db.execute("SELECT id, language, vector FROM chunks ORDER BY id").fetchall()
        return _stored_vectors(rows, dimension)

    @staticmethod
    def insert_document(
        db: sqlite3.Connection, meta: DocumentMeta, chunks: list[NewChunk], vectors: np.ndarray
    ) -> list[int]:
        """Insert a document with its chunks and their raw vectors; returns the chunk ids."""
        row = meta.model_dump(mode="json")
        row.update(n_chunks=len(chunks), ingested_at=dt.datetime.now(dt.UTC).isoformat())
        cur = db.execute(
            f"INSERT INTO documents({','.join(row)}) VALUES ({','.join('?' * len(row))})",
            list(row.values()),
        )
        doc_id = cur.lastrowid
        ids = []
        for ordinal, (chunk, vector) in enumerate(zip(chunks, vectors, strict=True)):
            cur = db.execute(
                "INSERT INTO chunks(document_id, ordinal, text, language, provenance, n_tokens,"
                " vector) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (doc_id, ordinal, chunk.text, chunk.language or meta.language,
                 json.dumps(chunk.provenance.as_dict()), chunk.n_tokens,
                 np.asarray(vector, dtype=np.float32).tobytes()),
            )
            ids.append(int(cur.lastrowid))
        return ids

    # --- reads ----------------------------------------------------------------
    def content_hash(self, source_path: str) -> str | None:
        with self.connect() as db:
            row = db.execute(
                "SELECT content_hash FROM documents WHERE source_path = ?", (source_path,)
            ).fetchone()
        return row[0] if row else None

    def chunk_ids(self, filters: Filters) -> list[int]:
        """Ids of every chunk whose document passes ``filters``."""
        where, params = filter_sql(filters)
        with self.connect() as db:
            return [r[0] for r in db.execute(
                f"SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id"
                f" WHERE {where}", params)]

    def chunks_by_id(self, ids: list[int]) -> dict[int, tuple[Chunk, Document]]:
        if not ids:
            return {}
        with self.connect() as db:
            rows = db.execute(
                f"SELECT c.*, d.id AS d_id FROM chunks c JOIN documents d ON d.id = c.document_id"
                f" WHERE c.id IN ({','.join('?' * len(ids))})", ids).fetchall()
            doc_ids = sorted({r["d_id"] for r in rows})
            docs = {r["id"]: _document(r) for r in db.execute(
                f"SELECT * FROM documents WHERE id IN ({','.join('?' * len(doc_ids))})", doc_ids)}
        return {r["id"]: (_chunk(r), docs[r["d_id"]]) for r in rows}

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
                f" ORDER BY d.date DESC, d.id LIMIT ? OFFSET ?", [*params, limit, offset])
            return [_document(r) for r in rows], total

    def document(self, doc_id: int) -> tuple[Document, list[Chunk]] | None:
        with self.connect() as db:
            row = db.execute("SELECT * FROM documents WHERE id = ?", (doc_id,)).fetchone()
            if row is None:
                return None
            chunks = db.execute(
                "SELECT * FROM chunks WHERE document_id = ? ORDER BY ordinal", (doc_id,))
            return _document(row), [_chunk(c) for c in chunks]

    def counts(self) -> dict[str, Any]:
        """Totals for ``status``: documents, chunks, and documents per office and language."""
        with self.connect() as db:
            docs = db.execute("SELECT count(*) FROM documents").fetchone()[0]
            chunks = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
            per = {
                col: dict(db.execute(
                    f"SELECT coalesce({col}, '?'), count(*) FROM documents GROUP BY 1 ORDER BY 1"
                ).fetchall())
                for col in ("office", "language", "doc_type")
            }
        return {"documents": docs, "chunks": chunks, **{f"by_{k}": v for k, v in per.items()}}
