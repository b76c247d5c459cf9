"""Stored chunks: a document's passages in order, each id also its vector's id in the index.

Their keyword terms (``search.lexical``) and raw vectors (``search.embedding_cache``) are
written beside them by the writer, in the same transaction.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import numpy as np

from search.documents import document_record
from search.records import Chunk, Document, NewChunk, Provenance
from search.sql import batches, by_id, placeholders


def chunk_record(row: sqlite3.Row) -> Chunk:
    data = dict(row)
    data["provenance"] = Provenance.model_validate_json(data["provenance"])
    return Chunk.model_validate(data)


# --- writes ---------------------------------------------------------------------------
def insert_chunks(db: sqlite3.Connection, document_id: int, language: str | None,
                  chunks: list[NewChunk], hashes: list[str]) -> list[int]:
    """Store a document's chunks (``hashes``: their texts' hashes); returns their ids."""
    ids = []
    for ordinal, (chunk, digest) in enumerate(zip(chunks, hashes, strict=True)):
        cur = db.execute(
            "INSERT INTO chunks(document_id, ordinal, text, text_hash, language, provenance,"
            " n_tokens) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (document_id, ordinal, chunk.text, digest, chunk.language or language,
             json.dumps(chunk.provenance.as_dict()), chunk.n_tokens),
        )
        ids.append(int(cur.lastrowid))
    return ids


def delete_chunks(db: sqlite3.Connection, document_ids: list[int]) -> list[int]:
    """Delete these documents' chunks; returns their ids."""
    removed: list[int] = []
    for batch in batches(document_ids):
        removed += [r[0] for r in db.execute(
            f"SELECT id FROM chunks WHERE document_id IN ({placeholders(batch)})", batch)]
        db.execute(f"DELETE FROM chunks WHERE document_id IN ({placeholders(batch)})", batch)
    return removed


# --- reads ----------------------------------------------------------------------------
def chunks_by_id(db: sqlite3.Connection, ids: list[int]) -> dict[int, tuple[Chunk, Document]]:
    """Chunk id -> the chunk and its document, for the chunks still stored."""
    if not ids:
        return {}
    rows = db.execute(
        f"SELECT c.*, d.id AS d_id FROM chunks c JOIN documents d ON d.id = c.document_id"
        f" WHERE c.id IN ({placeholders(ids)})", ids).fetchall()
    doc_ids = sorted({r["d_id"] for r in rows})
    docs = {r["id"]: document_record(r) for r in db.execute(
        f"SELECT * FROM documents WHERE id IN ({placeholders(doc_ids)})", doc_ids)}
    return {r["id"]: (chunk_record(r), docs[r["d_id"]]) for r in rows}


def document_chunks(db: sqlite3.Connection, document_id: int) -> list[Chunk]:
    """A document's chunks, in order."""
    return [chunk_record(r) for r in db.execute(
        "SELECT * FROM chunks WHERE document_id = ? ORDER BY ordinal", (document_id,))]


def document_chunk_ids(db: sqlite3.Connection, document_id: int) -> list[int]:
    return [r[0] for r in db.execute(
        "SELECT id FROM chunks WHERE document_id = ? ORDER BY ordinal", (document_id,))]


def chunk_documents(db: sqlite3.Connection, ids: list[int]) -> dict[int, int]:
    """Chunk id -> its document's id, for the chunks still stored."""
    return by_id(db, "SELECT id, document_id FROM chunks", ids)


def chunk_languages(db: sqlite3.Connection, ids: list[int]) -> dict[int, str | None]:
    return by_id(db, "SELECT id, language FROM chunks", ids)


def filtered_chunk_ids(db: sqlite3.Connection, where: str, params: list[Any]) -> list[int]:
    """Ids of every chunk whose document passes a ``filter_sql`` clause."""
    return [r[0] for r in db.execute(
        f"SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id"
        f" WHERE {where}", params)]


def office_chunks(db: sqlite3.Connection, min_tokens: int) -> list[sqlite3.Row]:
    """Chunks of documents with an office, by id: those ``min_tokens`` long or more,
    and the only chunk of a document whatever its length."""
    return db.execute(
        "SELECT c.id, d.office, c.document_id, c.language, c.text FROM chunks c"
        " JOIN documents d ON d.id = c.document_id"
        " WHERE d.office IS NOT NULL AND (c.n_tokens >= ? OR d.n_chunks = 1) ORDER BY c.id",
        (min_tokens,)).fetchall()


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


def is_substantial(chunk: Chunk, document: Document, min_tokens: int) -> bool:
    """Whether a chunk can hold a finding: not a greeting or heading among longer parts.

    A document of one chunk (a short note, one sentence) is its own finding.
    """
    return chunk.n_tokens >= min_tokens or document.n_chunks == 1
