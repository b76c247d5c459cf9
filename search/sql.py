"""Small helpers for SQL: id lists (SQLite caps the parameters of one statement), no filter."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

BATCH = 500
NO_FILTER = "1"  # the WHERE clause of a query with no filter (``store.filter_sql``)


def placeholders(values: list[Any]) -> str:
    """``?,?,?`` for an ``IN (...)`` over ``values``."""
    return ",".join("?" * len(values))


def batches(values: list[Any], size: int = BATCH) -> Iterator[list[Any]]:
    """``values`` in slices small enough for one statement."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def get_meta(db: sqlite3.Connection, key: str) -> str | None:
    """A value of the ``meta`` table (settings the database itself keeps), or None."""
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def set_meta(db: sqlite3.Connection, key: str, value: str) -> None:
    db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))
