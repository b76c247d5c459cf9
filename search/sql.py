"""SQL helpers every table's functions share: id lists in batches, the ``meta`` table,
timestamps as stored."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from typing import Any

BATCH = 500  # ids in one statement: SQLite caps the parameters of a statement
NO_FILTER = "1"  # the WHERE clause of a query with no filter (``documents.filter_sql``)


def placeholders(values: list[Any]) -> str:
    """``?,?,?`` for an ``IN (...)`` over ``values``."""
    return ",".join("?" * len(values))


def batches(values: list[Any], size: int = BATCH) -> Iterator[list[Any]]:
    """``values`` in slices small enough for one statement."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def by_id(db: sqlite3.Connection, select: str, ids: list[int]) -> dict[int, Any]:
    """Id -> value for ``select`` (``SELECT id, value FROM table``) over these ids, in
    batches; ids no longer stored are absent.

    Rows come as plain tuples (the cursor drops the connection's ``sqlite3.Row``): a
    search looks up hundreds of ids this way, and tuples are faster to fetch.
    """
    cursor = db.cursor()
    cursor.row_factory = None
    found: dict[int, Any] = {}
    for batch in batches(ids):
        found.update(cursor.execute(f"{select} WHERE id IN ({placeholders(batch)})", batch))
    return found


def get_meta(db: sqlite3.Connection, key: str) -> str | None:
    """A value of the ``meta`` table (what the database says of itself), or None."""
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def set_meta(db: sqlite3.Connection, key: str, value: str) -> None:
    db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))


def utc_now() -> str:
    """Now, as timestamps are stored."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
