"""Small helpers for SQL over id lists: SQLite caps the parameters of one statement."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

BATCH = 500


def placeholders(values: list[Any]) -> str:
    """``?,?,?`` for an ``IN (...)`` over ``values``."""
    return ",".join("?" * len(values))


def batches(values: list[Any], size: int = BATCH) -> Iterator[list[Any]]:
    """``values`` in slices small enough for one statement."""
    for start in range(0, len(values), size):
        yield values[start : start + size]
