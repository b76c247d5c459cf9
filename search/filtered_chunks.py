"""The chunks that pass a filter, kept until a publish changes them.

A filtered search restricts both lists to these chunk ids (an id selector inside FAISS, an id
set in the keyword index), so that it still fills k. Reading them joins every chunk of the
filtered documents, which grows with the index, while users repeat the same few filters (their
office, a document type); so the ids are kept per filter until the next publish, which may move
a document to another office without touching its chunks.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict

import numpy as np

from search.chunks import filtered_chunk_ids
from search.documents import filter_sql
from search.lexical import StoredTerms
from search.records import Filters


class FilteredChunks:
    """Chunk ids per filter, the ``kept`` most recently used, as the latest publish left them."""

    def __init__(self, kept: int) -> None:
        self._kept = kept
        self._ids: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def ids(self, db: sqlite3.Connection, filters: Filters | None) -> np.ndarray | None:
        """The chunks passing ``filters`` as ``db``'s snapshot holds them (None: no filter)."""
        if filters is None or filters.is_empty():
            return None
        where, params = filter_sql(filters)
        key = (StoredTerms.changes(db), where, tuple(params))
        with self._lock:
            found = self._ids.get(key)
            if found is not None:
                self._ids.move_to_end(key)
                return found
        found = np.array(filtered_chunk_ids(db, where, params), dtype=np.int64)
        found.setflags(write=False)  # shared by every search with this filter
        with self._lock:
            self._ids[key] = found
            while len(self._ids) > self._kept:
                self._ids.popitem(last=False)
        return found
