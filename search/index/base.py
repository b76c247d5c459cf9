"""The interface every vector index backend implements (txtai's ANN shape)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np


class VectorIndex(ABC):
    """Unit vectors keyed by chunk id, searched by inner product."""

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension

    @classmethod
    def for_size(cls, dimension: int, expected: int, exact_limit: int,
                 nprobe: int) -> VectorIndex:
        """An empty index suited to about ``expected`` vectors: exact up to ``exact_limit``,
        approximate beyond where the backend has such a kind."""
        return cls(dimension)

    @property
    def exact(self) -> bool:
        """Whether searches are exact (an approximate index is rebuilt, not grown, when the
        corpus changes size class)."""
        return True

    @property
    def kind(self) -> str:
        """The index type, for status pages and generation records."""
        return "exact"

    @abstractmethod
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add ``vectors`` (n, d float32) under ``ids`` (n int64)."""

    @abstractmethod
    def delete(self, ids: np.ndarray) -> None:
        """Remove the vectors stored under ``ids``; unknown ids are ignored."""

    @abstractmethod
    def search(
        self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` (scores, ids) per query, only among ``allowed_ids`` when given.

        Missing results are padded with id -1.
        """

    @abstractmethod
    def range_search(self, queries: np.ndarray,
                     threshold: float) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per query, the (ids, scores) of every vector scoring at least ``threshold``."""

    @abstractmethod
    def save(self, path: Path) -> None:
        """Write the index to ``path`` (the caller makes it atomic)."""

    @classmethod
    @abstractmethod
    def load(cls, path: Path) -> VectorIndex:
        """Read an index written by :meth:`save`."""

    @classmethod  # noqa: B027 - a hook that a file backend leaves empty
    def publish(cls, path: Path) -> None:
        """Announce the generation saved at ``path`` as the live one, once the database names
        it. A file needs nothing more: readers find it through the database."""

    @classmethod
    def retire(cls, dropped: list[Path], kept: list[Path]) -> None:
        """Delete the generations saved at ``dropped``; those at ``kept`` stay readable."""
        for path in dropped:
            path.unlink(missing_ok=True)

    @abstractmethod
    def __len__(self) -> int:
        """Number of stored vectors."""
