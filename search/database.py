"""The SQLite database file: its connections, their transactions, and read snapshots.

SQLite is the embedded database: one file, transactions, WAL so readers never wait for the
writer. The functions that read and write the tables (``search.documents``,
``search.chunks``, ``search.embedding_cache``, ``search.runs``, ...) each take an open
connection and never open or commit one; whoever carries out a whole operation opens it
here, with ``connect`` (one transaction) or ``snapshot`` (every read of a block in one).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from search import schema


class _IdleConnections(threading.local):
    """This thread's open connections not in use (SQLite connections stay in their thread),
    and the one its current snapshot reads through, if any."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.connections: list[sqlite3.Connection] = []
        self.pinned: sqlite3.Connection | None = None


class Database:
    """One database file, its tables created on first open; connections reused per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._idle = _IdleConnections()
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            schema.create(db, path)
            db.commit()
        finally:
            db.close()

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every ``connect`` of this thread inside the block reads one snapshot of the
        database: a read transaction held until the block ends, so that a publish
        meanwhile changes nothing the block reads (in WAL mode a reader never holds up the
        writer). Only for reading; a nested snapshot is the outer one."""
        if self._idle.pinned is not None:
            yield
            return
        with self.connect() as db:
            db.execute("SELECT value FROM meta LIMIT 1").fetchall()  # the snapshot starts here
            self._idle.pinned = db
            try:
                yield
            finally:
                self._idle.pinned = None

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys=ON")
        return db

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection inside one transaction: committed on success, else rolled back.

        Connections are kept per thread and reused once their transaction has ended:
        opening one (file, schema, pragmas) costs as much as the lookups of a search.
        A nested ``connect`` gets a connection of its own; a forked child opens its own,
        never its parent's.
        """
        idle = self._idle
        if idle.pid != os.getpid():
            idle.pid, idle.connections, idle.pinned = os.getpid(), [], None
        if idle.pinned is not None:  # inside ``snapshot``: its read transaction, as it is
            yield idle.pinned
            return
        db = idle.connections.pop() if idle.connections else self._open()
        try:
            db.execute("BEGIN")
            yield db
            db.execute("COMMIT")
        except BaseException:
            with suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise
        finally:
            if db.in_transaction:  # neither committed nor rolled back: never reuse it
                db.close()
            else:
                idle.connections.append(db)
