"""Browser sessions: the web page signs in with an API key once and holds a session id.

The cookie carries a random session id, never the key: a stolen cookie ends with its
session, and it opens the pages only (the JSON API takes keys in headers, so a cookie can
never upload or delete through it). The database keeps the id's SHA-256 digest, the key it
stands for, a CSRF token for the session's forms and when it expires. A session ends at
sign-out, when it expires (``session_hours``), and when its key is revoked: every lookup
joins the live keys.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from api.keys import ApiKey, key_from_row
from search.database import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    digest TEXT PRIMARY KEY,
    key_id INTEGER NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Session:
    """A live session: the key it stands for, and the token its forms must carry."""

    key: ApiKey
    csrf: str


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class SessionStore:
    """The ``sessions`` table beside the keys it refers to."""

    def __init__(self, store: Database, lifetime: dt.timedelta) -> None:
        self.store = store
        self.lifetime = lifetime
        with store.connect() as db:
            db.execute(SCHEMA)

    def start(self, key: ApiKey) -> tuple[str, Session]:
        """A new session for ``key``: its id (for the cookie, shown this once) and itself."""
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        expires = (dt.datetime.now(dt.UTC) + self.lifetime).isoformat(timespec="seconds")
        with self.store.connect() as db:
            db.execute("DELETE FROM sessions WHERE expires_at <= ?", (_now(),))
            db.execute("INSERT INTO sessions(digest, key_id, csrf, expires_at) VALUES (?, ?, ?, ?)",
                       (_digest(session_id), key.id, csrf, expires))
        return session_id, Session(key, csrf)

    def find(self, session_id: str) -> Session | None:
        """The live session with this id: not ended, not expired, its key not revoked."""
        with self.store.connect() as db:
            row = db.execute(
                "SELECT k.*, s.csrf AS session_csrf FROM sessions s JOIN api_keys k"
                " ON k.id = s.key_id WHERE s.digest = ? AND s.expires_at > ?"
                " AND k.revoked_at IS NULL", (_digest(session_id), _now())).fetchone()
        return Session(key_from_row(row), row["session_csrf"]) if row is not None else None

    def end(self, session_id: str) -> None:
        with self.store.connect() as db:
            db.execute("DELETE FROM sessions WHERE digest = ?", (_digest(session_id),))
