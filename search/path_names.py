"""How a stored file is named to whoever reads the API: its source and its path inside it.

The database keeps absolute paths (a re-index finds files by them), but a client has no use
for the server's file system layout and should not learn it (``/srv/bridge/uploads/3f...md``).
Each root a run reads is remembered with the name it is shown under (a configured source's
name, a folder's own name, an upload's original file name), and a path is shown as that
name and the path below it. The API sets :data:`SHOWN_PATHS` for each request; records
serialise their paths through it (``search.records``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import PurePosixPath

PathNamer = Callable[[str], str]
SHOWN_PATHS: ContextVar[PathNamer | None] = ContextVar("shown_paths", default=None)
# The serialisation context of records written to the database or copied between record
# types: their paths stay as stored, whoever's request it runs in.
AS_STORED = {"paths": "as stored"}


def remember(db: sqlite3.Connection, root: str, shown: str) -> None:
    """Show ``root`` (an absolute folder or file) and what is below it as ``shown``."""
    db.execute("INSERT OR REPLACE INTO roots(path, shown) VALUES (?, ?)", (root, shown))


def namer(db: sqlite3.Connection) -> PathNamer:
    """A function naming stored paths by the deepest remembered root that holds them; a
    path under none is shown by its file name alone."""
    roots = sorted(db.execute("SELECT path, shown FROM roots").fetchall(),
                   key=lambda row: -len(row[0]))

    def name(path: str) -> str:
        for root, shown in roots:
            if path == root:
                return shown
            if path.startswith(root.rstrip("/") + "/"):
                return f"{shown}/{path[len(root.rstrip('/')) + 1:]}"
        return PurePosixPath(path).name

    return name


def on_first_use(load: Callable[[], PathNamer]) -> PathNamer:
    """A namer that reads the roots only when it names a first path: most answers (health,
    static files, searches without hits) name none, and need no query for them."""
    loaded: list[PathNamer] = []

    def name(path: str) -> str:
        if not loaded:
            loaded.append(load())
        return loaded[0](path)

    return name


def shown(path: str, context: object = None) -> str:
    """``path`` as this request's reader sees it: as stored where no request is set, or
    where the serialisation ``context`` is :data:`AS_STORED`. A path already shown
    (relative) stays as it is: a response may be serialised twice."""
    name = SHOWN_PATHS.get()
    if name is None or context == AS_STORED or not PurePosixPath(path).is_absolute():
        return path
    return name(path)
