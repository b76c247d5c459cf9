"""API keys: created and revoked by operators (``bridge keys``), stored hashed.

A key is 256 random bits, shown once at creation. The database keeps only its
SHA-256 digest (a random key needs no slow password hash: there is nothing
to guess) and an 11-character prefix so operators can tell keys apart. Each key
has scopes and, optionally, the offices it may see; the table lives in the
knowledge base's SQLite file beside the documents it guards.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import sqlite3
from enum import StrEnum

from pydantic import BaseModel, Field

from search.database import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    digest TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    offices TEXT,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
"""
KEY_PREFIX = "kb_"


class Scope(StrEnum):
    """What a key may do: ``read`` search, documents and bridges; ``ingest`` upload and
    re-index; ``admin`` runs, deletes, metrics."""

    read = "read"
    ingest = "ingest"
    admin = "admin"


class KeyRequestError(ValueError):
    """A key that cannot be created or revoked as asked."""


class ApiKey(BaseModel):
    """A key as operators see it: never the secret itself."""

    id: int
    name: str
    prefix: str = Field(description="The key's first characters, to recognise it.")
    scopes: list[Scope]
    offices: list[str] | None = Field(description="Offices it may see; none: every office.")
    created_at: dt.datetime
    revoked_at: dt.datetime | None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def key_from_row(row: sqlite3.Row) -> ApiKey:
    return ApiKey(id=row["id"], name=row["name"], prefix=row["prefix"],
                  scopes=json.loads(row["scopes"]),
                  offices=json.loads(row["offices"]) if row["offices"] else None,
                  created_at=row["created_at"], revoked_at=row["revoked_at"])


class KeyStore:
    """The ``api_keys`` table of a knowledge base's database."""

    def __init__(self, store: Database) -> None:
        self.store = store
        with store.connect() as db:
            db.execute(SCHEMA)

    def create(self, name: str, scopes: list[Scope],
               offices: list[str] | None = None) -> tuple[ApiKey, str]:
        """A new key and its secret (returned this once, never stored)."""
        scopes = sorted(set(scopes), key=list(Scope).index)
        if not name.strip():
            raise KeyRequestError("a key needs a name")
        if not scopes:
            raise KeyRequestError("a key needs at least one scope: read, ingest or admin")
        if offices and Scope.admin in scopes:
            raise KeyRequestError("a key limited to offices cannot have the admin scope: admin "
                            "routes (runs, metrics) show every office")
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self.store.connect() as db:
            cursor = db.execute(
                "INSERT INTO api_keys(name, prefix, digest, scopes, offices, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (name.strip(), secret[:11], _digest(secret), json.dumps(scopes),
                 json.dumps(sorted(set(offices))) if offices else None, now))
            row = db.execute("SELECT * FROM api_keys WHERE id = ?",
                             (cursor.lastrowid,)).fetchone()
        return key_from_row(row), secret

    def list(self) -> list[ApiKey]:
        with self.store.connect() as db:
            return [key_from_row(r) for r in db.execute("SELECT * FROM api_keys ORDER BY id")]

    def revoke(self, key_id: int) -> ApiKey:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self.store.connect() as db:
            db.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                       (now, key_id))
            row = db.execute("SELECT * FROM api_keys WHERE id = ?", (key_id,)).fetchone()
        if row is None:
            raise KeyRequestError(f"no key with id {key_id}")
        return key_from_row(row)

    def find(self, secret: str) -> ApiKey | None:
        """The live key with this secret, if any."""
        with self.store.connect() as db:
            row = db.execute("SELECT * FROM api_keys WHERE digest = ? AND revoked_at IS NULL",
                             (_digest(secret),)).fetchone()
        return key_from_row(row) if row is not None else None
