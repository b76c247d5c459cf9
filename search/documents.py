"""Stored documents and the file paths that name them.

A document is one distinct content: a copy of a file is one more path to the same document,
and a moved file only re-points its path. A document no path names any more is an orphan,
which the writer deletes with its chunks.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from typing import Any, NamedTuple

from search import path_names
from search.records import Document, DocumentMeta, DocumentSummary, FileStat, Filters
from search.sql import NO_FILTER, batches, by_id, placeholders, utc_now

# Filter field -> SQL column on ``documents d``; every filter applies to documents.
FILTER_COLUMNS = {"office": "d.office", "region": "d.region", "doc_type": "d.doc_type",
                  "language": "d.language"}


class PathState(NamedTuple):
    """What the database knows of one file path: its document and the file's stat."""

    document_id: int
    content_hash: str
    size: int | None
    mtime_ns: int | None


def document_record(row: sqlite3.Row, paths: list[str] | None = None) -> Document:
    return Document.model_validate({**dict(row), "paths": paths or [row["source_path"]]})


def filter_sql(filters: Filters | None) -> tuple[str, list[Any]]:
    """A ``WHERE`` clause over ``documents d`` (or ``1``) and its parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    if filters is not None:
        for field, column in FILTER_COLUMNS.items():
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


# --- paths ----------------------------------------------------------------------------
def known_paths(db: sqlite3.Connection, root: str) -> dict[str, PathState]:
    """Every stored path equal to ``root`` or under it (``root`` is resolved)."""
    rows = db.execute(
        "SELECT p.source_path, p.document_id, d.content_hash, p.size, p.mtime_ns"
        " FROM paths p JOIN documents d ON d.id = p.document_id"
        " WHERE p.source_path = ? OR (p.source_path >= ? AND p.source_path < ?)",
        (root, root.rstrip("/") + "/", root.rstrip("/") + "0")).fetchall()
    return {r[0]: PathState(*r[1:]) for r in rows}


def link_path(db: sqlite3.Connection, source_path: str, document_id: int,
              stat: FileStat | None, source: str | None) -> int | None:
    """Point ``source_path`` at a document; returns the document it pointed at until now."""
    previous = unlink_path(db, source_path)
    db.execute("INSERT INTO paths(source_path, document_id, size, mtime_ns, source)"
               " VALUES (?, ?, ?, ?, ?)",
               (source_path, document_id, stat.size if stat else None,
                stat.mtime_ns if stat else None, source))
    return previous


def unlink_path(db: sqlite3.Connection, source_path: str) -> int | None:
    """Forget a path; returns the document it pointed at."""
    row = db.execute("DELETE FROM paths WHERE source_path = ? RETURNING document_id",
                     (source_path,)).fetchone()
    return row[0] if row else None


def touch_path(db: sqlite3.Connection, source_path: str, stat: FileStat) -> None:
    """Record a new stat for a file whose content did not change."""
    db.execute("UPDATE paths SET size = ?, mtime_ns = ? WHERE source_path = ?",
               (stat.size, stat.mtime_ns, source_path))


def _paths_of(db: sqlite3.Connection, doc_ids: list[int]) -> dict[int, list[str]]:
    paths: dict[int, list[str]] = {}
    for row in db.execute(
            f"SELECT document_id, source_path FROM paths WHERE document_id IN"
            f" ({placeholders(doc_ids)}) ORDER BY source_path", doc_ids):
        paths.setdefault(row[0], []).append(row[1])
    return paths


# --- documents: writes ----------------------------------------------------------------
def document_id_by_hash(db: sqlite3.Connection, digest: str) -> int | None:
    row = db.execute("SELECT id FROM documents WHERE content_hash = ?", (digest,)).fetchone()
    return row[0] if row else None


def insert_document(db: sqlite3.Connection, meta: DocumentMeta, n_chunks: int) -> int:
    row = meta.model_dump(mode="json", context=path_names.AS_STORED)
    row.update(n_chunks=n_chunks, ingested_at=utc_now())
    cur = db.execute(
        f"INSERT INTO documents({','.join(row)}) VALUES ({placeholders(list(row))})",
        list(row.values()),
    )
    return int(cur.lastrowid)


def update_document(db: sqlite3.Connection, document_id: int, meta: DocumentMeta,
                    n_chunks: int | None = None) -> None:
    """New metadata for stored content (a moved or re-read file)."""
    row = meta.model_dump(mode="json", exclude={"content_hash"}, context=path_names.AS_STORED)
    if n_chunks is not None:
        row.update(n_chunks=n_chunks, ingested_at=utc_now())
    db.execute(f"UPDATE documents SET {', '.join(f'{k} = ?' for k in row)} WHERE id = ?",
               [*row.values(), document_id])


def orphans(db: sqlite3.Connection, document_ids: set[int]) -> list[int]:
    """Those of these documents that no path names any more."""
    return [i for i in sorted(document_ids) if db.execute(
        "SELECT 1 FROM paths WHERE document_id = ? LIMIT 1", (i,)).fetchone() is None]


def delete_documents(db: sqlite3.Connection, document_ids: list[int]) -> None:
    for batch in batches(document_ids):
        db.execute(f"DELETE FROM documents WHERE id IN ({placeholders(batch)})", batch)


# --- documents: reads -----------------------------------------------------------------
def source_paths(db: sqlite3.Connection, ids: list[int]) -> dict[int, str]:
    """Document id -> its source path, for the documents still stored."""
    return by_id(db, "SELECT id, source_path FROM documents", ids)


def document_summaries(db: sqlite3.Connection, ids: list[int]) -> dict[int, DocumentSummary]:
    """Document id -> its summary, for those still stored."""
    summaries: dict[int, DocumentSummary] = {}
    for batch in batches(sorted(set(ids))):
        summaries.update((r["id"], DocumentSummary.model_validate(dict(r)))
                         for r in db.execute(f"SELECT * FROM documents WHERE id IN"
                                             f" ({placeholders(batch)})", batch))
    return summaries


def document_by_id(db: sqlite3.Connection, doc_id: int) -> Document | None:
    row = db.execute("SELECT * FROM documents WHERE id = ?", (doc_id,)).fetchone()
    return None if row is None else document_record(row, _paths_of(db, [doc_id]).get(doc_id))


def documents_page(db: sqlite3.Connection, filters: Filters | None, limit: int,
                   offset: int) -> tuple[list[Document], int]:
    """A page of documents (newest first) and the total that pass ``filters``."""
    where, params = filter_sql(filters)
    total = db.execute(f"SELECT count(*) FROM documents d WHERE {where}", params).fetchone()[0]
    rows = db.execute(
        f"SELECT d.* FROM documents d WHERE {where}"
        f" ORDER BY d.date DESC, d.id LIMIT ? OFFSET ?", [*params, limit, offset]
    ).fetchall()
    paths = _paths_of(db, [r["id"] for r in rows])
    return [document_record(r, paths.get(r["id"])) for r in rows], total


def facet_counts(db: sqlite3.Connection, filters: Filters | None,
                 fields: list[str]) -> dict[str, Counter[str]]:
    """Documents passing ``filters`` counted per value of each field (office, region,
    doc_type, language): one grouped query, cheap at any corpus size."""
    where, params = filter_sql(filters)
    columns = [FILTER_COLUMNS[f] for f in fields]
    counts: dict[str, Counter[str]] = {f: Counter() for f in fields}
    for row in db.execute(f"SELECT {', '.join(columns)}, count(*) FROM documents d"
                          f" WHERE {where} GROUP BY {', '.join(columns)}", params):
        for field, value in zip(fields, row, strict=False):
            if value is not None:
                counts[field][value] += row[-1]
    return counts


def totals(db: sqlite3.Connection) -> dict[str, Any]:
    """Totals for ``status``: documents, paths, chunks, and documents per office, language
    and type."""
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
