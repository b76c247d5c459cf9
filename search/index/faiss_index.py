"""Exact inner-product search with FAISS, ids mapped to chunk ids.

Filters become an ``IDSelectorBatch`` inside the search itself, so a filtered
query still returns k hits whenever k chunks match the filter.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from search.index.base import VectorIndex


class FaissIndex(VectorIndex):
    """``IndexIDMap2(IndexFlatIP)``: exact search over normalised vectors."""

    def __init__(self, dimension: int, index: faiss.Index | None = None) -> None:
        super().__init__(dimension)
        self._index = index or faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self._index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64)
            )

    def delete(self, ids: np.ndarray) -> None:
        if len(ids):
            self._index.remove_ids(np.asarray(ids, dtype=np.int64))

    def search(
        self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if len(self) == 0 or k <= 0 or (allowed_ids is not None and len(allowed_ids) == 0):
            return (np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64))
        params = None
        if allowed_ids is not None:
            selector = faiss.IDSelectorBatch(np.asarray(allowed_ids, dtype=np.int64))
            params = faiss.SearchParameters(sel=selector)
        return self._index.search(queries, min(k, len(self)), params=params)

    def range_search(self, queries: np.ndarray,
                     threshold: float) -> list[tuple[np.ndarray, np.ndarray]]:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if len(self) == 0 or len(queries) == 0:
            return [(np.zeros(0, np.int64), np.zeros(0, np.float32)) for _ in queries]
        limits, scores, ids = self._index.range_search(queries, threshold)
        return [(ids[limits[i]:limits[i + 1]], scores[limits[i]:limits[i + 1]])
                for i in range(len(queries))]

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> FaissIndex:
        index = faiss.read_index(str(path))
        return cls(index.d, index)

    def __len__(self) -> int:
        return int(self._index.ntotal)
