"""The interface of an ingest engine: files to prepare in, embedded files out.

An engine does the expensive middle of the pipeline (parse, chunk, embed) wherever
it runs it: the local engine in this machine's processes, the Ray engine on a
cluster. The run around it (which files changed, links, deletes, publishing) is
the same for both, so both publish the same kind of index generation.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ingest.preparing import Failed, Prepared, PrepareJob
from search.embedding import Encoder
from search.embedding_cache import EmbeddingCache, text_hash


@dataclass
class EmbeddedFile:
    """A prepared file with one vector per chunk; ``embedded`` of them are new to the cache."""

    prepared: Prepared
    vectors: np.ndarray
    embedded: int


class IngestEngine(ABC):
    """Turns jobs into embedded files (or failures), in the order of the jobs."""

    def __init__(self, encoder: Encoder, cache: EmbeddingCache) -> None:
        self.encoder = encoder
        self.cache = cache

    @abstractmethod
    def run(self, jobs: list[PrepareJob]) -> Iterator[EmbeddedFile | Failed]:
        """Each job's outcome, lazily, so that the run can publish as it goes."""

    @staticmethod
    def hand_out(prepared: list[Prepared], vectors: dict[str, np.ndarray],
                 fresh: set[str]) -> Iterator[EmbeddedFile]:
        """Each file with its chunks' vectors; a fresh text counts once, for its first file."""
        fresh = set(fresh)
        for p in prepared:
            hashes = [text_hash(c.text) for c in p.chunks]
            embedded = len(fresh.intersection(hashes))
            fresh.difference_update(hashes)
            yield EmbeddedFile(p, np.stack([vectors[h] for h in hashes]), embedded)
