"""Watches: a finding an office asked to hear about when another office adds something close.

A watch keeps what it watches as raw vectors (a typed text, a passage, a document's
passages) with their languages, so every publish can centre them with the offsets it
publishes, and the offices it may match, resolved once at creation from what its owner may
see: visibility applies to every later match. Matching itself happens at publish
(``search.watch_matching``); delivery (feed, webhooks) lives in ``api``. The functions take an
open connection, as every table module does (``search.database``).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from dataclasses import dataclass
from typing import Literal

import numpy as np

from search.sql import utc_now

WatchKind = Literal["text", "document", "chunk"]
Delivery = Literal["feed", "webhook", "both"]
WebhookStatus = Literal["none", "pending", "delivered", "failed"]


@dataclass(frozen=True)
class WatchedPassage:
    """One passage a watch watches, with its raw vector."""

    text: str
    language: str | None
    vector: np.ndarray


@dataclass(frozen=True)
class WatchTerms:
    """What a watch asks for. ``target_offices`` (casefolded) are the offices it may match;
    None means every office but its home one."""

    owner: str
    kind: WatchKind
    subject: dict
    home_office: str | None
    target_offices: tuple[str, ...] | None
    threshold: float
    delivery: Delivery
    webhook_url: str | None


@dataclass(frozen=True)
class NewWatch(WatchTerms):
    """A watch to store, with the passages it watches."""

    passages: list[WatchedPassage]


@dataclass(frozen=True)
class Watch(WatchTerms):
    """A stored watch."""

    id: int
    secret: str
    feed_token: str
    created_at: str

    def may_match(self, office: str | None) -> bool:
        """Whether a passage of ``office`` may alert this watch."""
        folded = (office or "").casefold()
        if folded == (self.home_office or "").casefold():
            return False
        return self.target_offices is None or folded in self.target_offices


@dataclass(frozen=True)
class Alert:
    """A new passage that matched a watch, as the publish that stored it recorded it."""

    id: int
    watch_id: int
    chunk_id: int
    document_id: int
    watched: tuple[str, str | None]  # the watched passage it matched: text, language
    similarity: float
    matched_at: str
    webhook_status: WebhookStatus
    attempts: int
    last_error: str | None


def insert_watch(db: sqlite3.Connection, new: NewWatch) -> int:
    """Store a watch with a fresh webhook secret and feed token; returns its id."""
    targets = json.dumps(list(new.target_offices)) if new.target_offices is not None else None
    cursor = db.execute(
        "INSERT INTO watches(owner, kind, subject, home_office, target_offices, threshold, "
        "delivery, webhook_url, secret, feed_token, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (new.owner, new.kind, json.dumps(new.subject), new.home_office, targets, new.threshold,
         new.delivery, new.webhook_url, secrets.token_urlsafe(32), secrets.token_urlsafe(24),
         utc_now()))
    watch_id = int(cursor.lastrowid or 0)
    db.executemany(
        "INSERT INTO watch_vectors(watch_id, passage, text, language, vector) "
        "VALUES (?, ?, ?, ?, ?)",
        [(watch_id, n, p.text, p.language, np.asarray(p.vector, np.float32).tobytes())
         for n, p in enumerate(new.passages)])
    return watch_id


def _watch(row: sqlite3.Row) -> Watch:
    targets = json.loads(row["target_offices"]) if row["target_offices"] else None
    return Watch(owner=row["owner"], kind=row["kind"], subject=json.loads(row["subject"]),
                 home_office=row["home_office"],
                 target_offices=tuple(targets) if targets is not None else None,
                 threshold=row["threshold"], delivery=row["delivery"],
                 webhook_url=row["webhook_url"], id=row["id"], secret=row["secret"],
                 feed_token=row["feed_token"], created_at=row["created_at"])


def watch_rows(db: sqlite3.Connection, owner: str | None = None) -> list[Watch]:
    """Every watch (or one owner's), oldest first."""
    where, params = ("WHERE owner = ?", [owner]) if owner is not None else ("", [])
    return [_watch(r) for r in db.execute(f"SELECT * FROM watches {where} ORDER BY id", params)]


def watch_by_id(db: sqlite3.Connection, watch_id: int) -> Watch | None:
    row = db.execute("SELECT * FROM watches WHERE id = ?", (watch_id,)).fetchone()
    return _watch(row) if row else None


def delete_watch(db: sqlite3.Connection, watch_id: int) -> bool:
    """Delete a watch with its vectors and alerts; whether there was one."""
    return db.execute("DELETE FROM watches WHERE id = ?", (watch_id,)).rowcount > 0


# An alert names the passage that now holds its text (a document indexed again stores its
# passages anew, under new ids) and the watched passage it matched.
_ALERTS = ("SELECT a.*, COALESCE((SELECT c.id FROM chunks c WHERE c.id = a.chunk_id), "
           "(SELECT MIN(c.id) FROM chunks c WHERE c.text_hash = a.text_hash), a.chunk_id) "
           "AS live_chunk_id, v.text AS watched_text, v.language AS watched_language "
           "FROM watch_alerts a LEFT JOIN watch_vectors v "
           "ON v.watch_id = a.watch_id AND v.passage = a.passage")


def _alert(row: sqlite3.Row) -> Alert:
    return Alert(row["id"], row["watch_id"], row["live_chunk_id"], row["document_id"],
                 (row["watched_text"] or "", row["watched_language"]), row["similarity"],
                 row["matched_at"], row["webhook_status"], row["attempts"], row["last_error"])


def alerts_of(db: sqlite3.Connection, watch_id: int, limit: int = 100) -> list[Alert]:
    """A watch's alerts, newest first."""
    return [_alert(r) for r in db.execute(
        f"{_ALERTS} WHERE a.watch_id = ? ORDER BY a.id DESC LIMIT ?", (watch_id, limit))]


def due_webhooks(db: sqlite3.Connection, now: str, limit: int = 50) -> list[Alert]:
    """Alerts whose webhook is pending and due by ``now``, oldest first."""
    return [_alert(r) for r in db.execute(
        f"{_ALERTS} WHERE a.webhook_status = 'pending' "
        "AND (a.next_attempt_at IS NULL OR a.next_attempt_at <= ?) ORDER BY a.id LIMIT ?",
        (now, limit))]


def record_attempt(db: sqlite3.Connection, alert_id: int, status: WebhookStatus,
                   error: str | None = None, next_attempt_at: str | None = None) -> None:
    """One delivery attempt's outcome: delivered, failed for good, or pending again."""
    db.execute("UPDATE watch_alerts SET webhook_status = ?, attempts = attempts + 1, "
               "last_error = ?, next_attempt_at = ? WHERE id = ?",
               (status, error, next_attempt_at, alert_id))


def alert_counts(db: sqlite3.Connection) -> dict[str, int]:
    """Alerts by webhook status, for the metrics."""
    return {r[0]: r[1] for r in db.execute(
        "SELECT webhook_status, COUNT(*) FROM watch_alerts GROUP BY webhook_status")}
