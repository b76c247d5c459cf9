"""The database's tables, every one of them, and the version they make together.

A document is one distinct content (unique content hash); ``paths`` points every file path
that holds it at it, so a copy is stored once and a move only re-points a path. Chunk ids are
AUTOINCREMENT so an id is never reused and a stale vector can never point at a different
chunk. ``embeddings`` keeps raw vectors by (model, chunk text hash): the embedding cache,
and what the vector index is rebuilt from. ``chunk_terms`` holds each chunk's analysed
keyword terms, what every generation's keyword index is built from (``search.lexical``);
``chunk_twins`` and ``document_twins`` the near-duplicate pairs
(``search.near_duplicates``); ``word_vectors`` the words of "why it matched"
(``search.word_vectors``); ``roots`` the names paths are shown under
(``search.path_names``); ``runs`` every ingest and re-index run with its report; ``watches``
and ``watch_alerts`` what offices watch and what matched it (``search.watches``); ``meta``
what the database says of itself: the schema version, the model, the published generation.

The API keeps its own tables (keys, sessions, upload jobs) beside these, in ``api``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA_VERSION = "2"

META = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
DOCUMENTS = """
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
CREATE INDEX IF NOT EXISTS documents_office ON documents(office COLLATE NOCASE);
"""
PATHS = """
CREATE TABLE IF NOT EXISTS paths (
    source_path TEXT PRIMARY KEY,
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    size INTEGER, mtime_ns INTEGER, source TEXT
);
CREATE INDEX IF NOT EXISTS paths_document ON paths(document_id);
"""
CHUNKS = """
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
CREATE INDEX IF NOT EXISTS chunks_document ON chunks(document_id, ordinal);
CREATE INDEX IF NOT EXISTS chunks_text_hash ON chunks(text_hash);
"""
EMBEDDINGS = """
CREATE TABLE IF NOT EXISTS embeddings (
    model_id TEXT NOT NULL, text_hash TEXT NOT NULL, vector BLOB NOT NULL,
    PRIMARY KEY (model_id, text_hash)
) WITHOUT ROWID;
"""
RUNS = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL, trigger TEXT NOT NULL, status TEXT NOT NULL, pid INTEGER,
    started_at TEXT NOT NULL, finished_at TEXT,
    files_total INTEGER, files_done INTEGER NOT NULL DEFAULT 0,
    report TEXT, error TEXT
);
"""
# The analysed terms of each chunk, separated by spaces (``search.lexical.stored_terms``).
CHUNK_TERMS = ("CREATE TABLE IF NOT EXISTS chunk_terms "
               "(chunk_id INTEGER PRIMARY KEY, terms TEXT NOT NULL)")
# Near-duplicate pairs, stored in both directions; they leave with their chunks and
# documents through ON DELETE CASCADE.
NEAR_DUPLICATES = """
CREATE TABLE IF NOT EXISTS chunk_twins (
    chunk_id INTEGER NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
    twin_id INTEGER NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
    similarity REAL NOT NULL,
    PRIMARY KEY (chunk_id, twin_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS chunk_twins_twin ON chunk_twins(twin_id);
CREATE TABLE IF NOT EXISTS document_twins (
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    twin_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    similarity REAL NOT NULL,
    coverage REAL NOT NULL,
    PRIMARY KEY (document_id, twin_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS document_twins_twin ON document_twins(twin_id);
"""
# Word vectors for "why it matched" (``search.word_vectors``), float16, by model and folded word.
WORD_VECTORS = """
CREATE TABLE IF NOT EXISTS word_vectors (
    model_id TEXT NOT NULL, word TEXT NOT NULL, vector BLOB NOT NULL,
    PRIMARY KEY (model_id, word)
) WITHOUT ROWID;
"""
ROOTS = "CREATE TABLE IF NOT EXISTS roots (path TEXT PRIMARY KEY, shown TEXT NOT NULL)"
# Watches and their alerts (``search.watches``): what a watch watches (its raw vectors, one
# row per passage), and every match a publish made, written in the publish's transaction (the
# outbox the feed and the webhooks read). An alert is unique per watch and chunk text, so a
# passage moved, copied or indexed again never alerts twice.
WATCHES = """
CREATE TABLE IF NOT EXISTS watches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    home_office TEXT,
    target_offices TEXT,
    threshold REAL NOT NULL,
    delivery TEXT NOT NULL,
    webhook_url TEXT,
    secret TEXT NOT NULL,
    feed_token TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS watch_vectors (
    watch_id INTEGER NOT NULL REFERENCES watches(id) ON DELETE CASCADE,
    passage INTEGER NOT NULL,
    text TEXT NOT NULL,
    language TEXT,
    vector BLOB NOT NULL,
    PRIMARY KEY (watch_id, passage)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS watch_alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    watch_id INTEGER NOT NULL REFERENCES watches(id) ON DELETE CASCADE,
    text_hash TEXT NOT NULL,
    chunk_id INTEGER NOT NULL,
    document_id INTEGER NOT NULL,
    passage INTEGER NOT NULL,
    similarity REAL NOT NULL,
    matched_at TEXT NOT NULL,
    webhook_status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_error TEXT,
    UNIQUE (watch_id, text_hash)
);
CREATE INDEX IF NOT EXISTS watch_alerts_webhooks ON watch_alerts(webhook_status, next_attempt_at);
"""

TABLES = (META, DOCUMENTS, PATHS, CHUNKS, EMBEDDINGS, RUNS, CHUNK_TERMS, NEAR_DUPLICATES, ROOTS,
          WORD_VECTORS, WATCHES)


def _terms_out_of_fts5(db: sqlite3.Connection) -> None:
    """Move the terms of a data directory that ranked keywords with FTS5 (an FTS5 table, rowid =
    chunk id) into the plain table: the terms are the same, only their ranking moved."""
    row = db.execute("SELECT sql FROM sqlite_master WHERE name = 'chunk_terms'").fetchone()
    if row is None or "fts5" not in row[0].lower():
        return
    db.executescript(CHUNK_TERMS.replace("chunk_terms", "chunk_terms_plain") + ";"
                     "INSERT INTO chunk_terms_plain SELECT rowid, terms FROM chunk_terms;"
                     "DROP TABLE chunk_terms;"
                     "ALTER TABLE chunk_terms_plain RENAME TO chunk_terms;")


class SchemaError(RuntimeError):
    """The data directory was written by an incompatible version."""


def create(db: sqlite3.Connection, path: Path) -> None:
    """Create whatever table is missing, after checking that the tables present are of this
    version (``path`` names the database in the error)."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "documents" in tables:
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if (row[0] if row else "1") != SCHEMA_VERSION:
            raise SchemaError(
                f"{path} was written by an older Knowledge Bridge (schema "
                f"{row[0] if row else 1}, this version needs {SCHEMA_VERSION}); ingest again "
                "into a new BRIDGE_DATA_DIR (or delete this one)")
    _terms_out_of_fts5(db)
    for statement in TABLES:
        db.executescript(statement)
    db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
