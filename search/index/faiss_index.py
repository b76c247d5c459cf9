"""Inner-product search with FAISS, ids mapped to chunk ids: exact, then IVF-SQ8 when large.

Up to ``index_exact_limit`` vectors the index is exact (``IndexFlatIP``). Beyond,
it is rebuilt as ``IVF{nlist},SQ8``: 8-bit codes in ``nlist`` inverted lists,
``nprobe`` of them scanned per query, far faster and smaller than exact search for a
small loss of recall (docs/scaling.md compares it with exact and HNSW, which cannot
delete). Filters become an ``IDSelectorBatch`` inside the search itself, so a filtered
query still returns k hits whenever k chunks match the filter.
"""

from __future__ import annotations

import math
from pathlib import Path

import faiss
import numpy as np

from search.index.base import VectorIndex

_POINTS_PER_LIST = 39  # FAISS's minimum training points per centroid


class FaissIndex(VectorIndex):
    """``IndexIDMap2(IndexFlatIP)`` (exact) or ``IVF{nlist},SQ8`` over normalised vectors."""

    def __init__(self, dimension: int, index: faiss.Index | None = None) -> None:
        super().__init__(dimension)
        self._index = index or faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        self._ivf = faiss.try_extract_index_ivf(self._index)

    @classmethod
    def for_size(cls, dimension: int, expected: int, exact_limit: int,
                 nprobe: int) -> FaissIndex:
        if expected <= exact_limit:
            return cls(dimension)
        # about 4 sqrt(n) lists, each with enough points to train its centroid
        nlist = max(1, min(int(4 * math.sqrt(expected)), expected // _POINTS_PER_LIST))
        index = faiss.index_factory(dimension, f"IVF{nlist},SQ8", faiss.METRIC_INNER_PRODUCT)
        faiss.extract_index_ivf(index).nprobe = nprobe
        return cls(dimension, index)

    @property
    def exact(self) -> bool:
        return self._ivf is None

    @property
    def kind(self) -> str:
        return "exact" if self._ivf is None else f"ivf{self._ivf.nlist}-sq8"

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            if not self._index.is_trained:  # an IVF index learns its lists from its first batch
                self._index.train(np.ascontiguousarray(vectors, dtype=np.float32))
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
        selector = (faiss.IDSelectorBatch(np.asarray(allowed_ids, dtype=np.int64))
                    if allowed_ids is not None else None)
        return self._index.search(queries, min(k, len(self)), params=self._params(selector))

    def _params(self, selector: faiss.IDSelector | None) -> faiss.SearchParameters | None:
        """Search parameters: IVF refuses the generic kind, and takes its nprobe here."""
        if self._ivf is not None:
            return faiss.SearchParametersIVF(sel=selector, nprobe=self._ivf.nprobe)
        return faiss.SearchParameters(sel=selector) if selector is not None else None

    def range_search(self, queries: np.ndarray,
                     threshold: float) -> list[tuple[np.ndarray, np.ndarray]]:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if len(self) == 0 or len(queries) == 0:
            return [(np.zeros(0, np.int64), np.zeros(0, np.float32)) for _ in queries]
        limits, scores, ids = self._index.range_search(queries, threshold,
                                                       params=self._params(None))
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
