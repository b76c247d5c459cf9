"""The embedding cache: each chunk text's raw vector, by model and text hash.

Same text, same vector: an unchanged text skips the model at the next ingest, whatever file
it comes back in. The cached vectors are also the raw material of the vector index, which
holds them language-centred: a publish rebuilds (re-centres) the index from them, and the
bridge map and bridge queries read stored chunks' raw vectors here.
"""

from __future__ import annotations

import hashlib
import sqlite3
from typing import NamedTuple

import numpy as np

from search.database import Database
from search.sql import batches, placeholders

# CROSS JOIN keeps chunks the outer loop: without statistics SQLite chose to walk every
# embedding of the model and look each chunk up, 100 times slower for a few hundred ids.
_CHUNK_VECTORS = ("SELECT c.id, c.language, e.vector FROM chunks c CROSS JOIN embeddings e"
                  " ON e.text_hash = c.text_hash AND e.model_id = ?")


def text_hash(text: str) -> str:
    """The key of a chunk's embedding in the cache: same text, same vector."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


class StoredVectors(NamedTuple):
    """Chunk ids with their languages and raw vectors."""

    ids: np.ndarray
    languages: list[str | None]
    vectors: np.ndarray


def _stored_vectors(rows: list[sqlite3.Row], dimension: int) -> StoredVectors:
    vectors = np.frombuffer(b"".join(r["vector"] for r in rows), dtype=np.float32)
    return StoredVectors(np.array([r["id"] for r in rows], dtype=np.int64),
                         [r["language"] for r in rows], vectors.reshape(len(rows), dimension))


def cached_vectors(db: sqlite3.Connection, model_id: str,
                   hashes: list[str]) -> dict[str, np.ndarray]:
    """Raw vectors already computed by ``model_id`` for these chunk text hashes."""
    found: dict[str, np.ndarray] = {}
    for batch in batches(sorted(set(hashes))):
        rows = db.execute(
            f"SELECT text_hash, vector FROM embeddings WHERE model_id = ?"
            f" AND text_hash IN ({placeholders(batch)})", [model_id, *batch])
        found.update((r[0], np.frombuffer(r[1], dtype=np.float32)) for r in rows)
    return found


def save_vectors(db: sqlite3.Connection, model_id: str, hashes: list[str],
                 vectors: np.ndarray) -> None:
    db.executemany(
        "INSERT OR IGNORE INTO embeddings(model_id, text_hash, vector) VALUES (?, ?, ?)",
        [(model_id, h, np.asarray(v, dtype=np.float32).tobytes())
         for h, v in zip(hashes, vectors, strict=True)])


def prune_vectors(db: sqlite3.Connection) -> int:
    """Forget cached vectors no chunk uses any more; returns how many."""
    return db.execute("DELETE FROM embeddings WHERE NOT EXISTS (SELECT 1 FROM chunks c"
                      " WHERE c.text_hash = embeddings.text_hash)").rowcount


def all_vectors(db: sqlite3.Connection, model_id: str, dimension: int) -> StoredVectors:
    """The raw vectors of every stored chunk, in id order."""
    rows = db.execute(f"{_CHUNK_VECTORS} ORDER BY c.id", (model_id,)).fetchall()
    return _stored_vectors(rows, dimension)


def chunk_vectors(db: sqlite3.Connection, ids: list[int], model_id: str,
                  dimension: int) -> StoredVectors:
    """The raw vectors of these chunks (those still stored), in id order."""
    rows: list[sqlite3.Row] = []
    for batch in batches(sorted(ids)):
        rows += db.execute(f"{_CHUNK_VECTORS} WHERE c.id IN ({placeholders(batch)})"
                           " ORDER BY c.id", [model_id, *batch]).fetchall()
    return _stored_vectors(rows, dimension)


class EmbeddingCache:
    """One model's cached vectors as an ingest engine uses them: looked up, and filled."""

    def __init__(self, database: Database, model_id: str) -> None:
        self.database = database
        self.model_id = model_id

    def get(self, hashes: list[str]) -> dict[str, np.ndarray]:
        """The vectors cached for these text hashes (those missing are absent)."""
        with self.database.connect() as db:
            return cached_vectors(db, self.model_id, hashes)

    def save(self, vectors: dict[str, np.ndarray]) -> None:
        """Keep freshly computed vectors (by text hash) at once, even if the run dies before
        publishing: nothing is embedded twice."""
        if vectors:
            with self.database.connect() as db:
                save_vectors(db, self.model_id, list(vectors), np.stack(list(vectors.values())))
