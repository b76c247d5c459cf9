"""Matching a publish's new chunks against every watch, inside the publish's transaction.

Only the chunks a publish adds are matched, so a watch costs nothing for what is already
stored: the watched passages go into their own small FAISS index, centred with the offsets
the publish uses (so an English passage meets a French one as bridges do), and the new chunks
search it once, by range. Each match above its watch's threshold, from an office the watch may
see, becomes a row of ``watch_alerts`` in the same transaction as the chunks, so an alert
exists exactly when its passage is published and is never lost by a crash in between. The row
is unique per watch and chunk text: a passage moved, copied, indexed again or left unchanged
by an edit never alerts twice.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import faiss
import numpy as np

from search.centering import LanguageOffsets
from search.sql import batches, placeholders, utc_now
from search.watches import Watch, watch_rows


@dataclass(frozen=True)
class _Watched:
    watches: list[Watch]  # one per row below
    passages: list[int]
    languages: list[str | None]
    vectors: np.ndarray  # raw


def _watched(db: sqlite3.Connection, dimension: int) -> _Watched | None:
    by_id = {w.id: w for w in watch_rows(db)}
    if not by_id:
        return None
    rows = db.execute("SELECT watch_id, passage, language, vector FROM watch_vectors "
                      "ORDER BY watch_id, passage").fetchall()
    vectors = np.frombuffer(b"".join(r[3] for r in rows), np.float32).reshape(-1, dimension)
    return _Watched([by_id[r[0]] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
                    vectors)


def _new_chunks(db: sqlite3.Connection, ids: list[int]) -> dict[int, sqlite3.Row]:
    found: dict[int, sqlite3.Row] = {}
    for batch in batches(ids):
        found.update((r["id"], r) for r in db.execute(
            "SELECT c.id, c.text_hash, c.document_id, d.office FROM chunks c "
            f"JOIN documents d ON d.id = c.document_id WHERE c.id IN ({placeholders(batch)})",
            batch))
    return found


def match_new_chunks(db: sqlite3.Connection, offsets: LanguageOffsets, chunk_ids: list[int],
                     vectors: np.ndarray, languages: list[str | None]) -> int:
    """Record an alert for every (watch, new chunk) pair that matches; returns how many
    alerts are new. ``vectors`` are the new chunks' raw vectors, row for row."""
    if not chunk_ids:
        return 0
    watched = _watched(db, vectors.shape[1])
    if watched is None or len(watched.vectors) == 0:
        return 0
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(offsets.center(watched.vectors, watched.languages))
    floor = min(w.threshold for w in watched.watches)
    limits, scores, rows = index.range_search(offsets.center(vectors, languages), floor)
    chunks = _new_chunks(db, chunk_ids)
    best: dict[tuple[int, int], tuple[float, int]] = {}  # (watch, chunk) -> (score, passage)
    for n, chunk_id in enumerate(chunk_ids):
        chunk = chunks.get(chunk_id)
        for score, row in zip(scores[limits[n]:limits[n + 1]], rows[limits[n]:limits[n + 1]],
                              strict=True):
            watch = watched.watches[row]
            if chunk is None or score < watch.threshold or not watch.may_match(chunk["office"]):
                continue
            key = (watch.id, chunk_id)
            if key not in best or score > best[key][0]:
                best[key] = (float(score), watched.passages[row])
    now = utc_now()
    delivery = {w.id: w.delivery for w in watched.watches}
    before = db.total_changes
    db.executemany(
        "INSERT OR IGNORE INTO watch_alerts(watch_id, text_hash, chunk_id, document_id, "
        "passage, similarity, matched_at, webhook_status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(watch_id, chunks[chunk_id]["text_hash"], chunk_id, chunks[chunk_id]["document_id"],
          passage, round(score, 4), now, "none" if delivery[watch_id] == "feed" else "pending")
         for (watch_id, chunk_id), (score, passage) in sorted(best.items())])
    return db.total_changes - before
