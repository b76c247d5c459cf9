"""Language-neutral vectors: each language's centroid is taken out before comparing.

A multilingual encoder places each language in a region of its own: a German
query's nearest passages are German ones on other topics, ahead of the English
passage that states the same finding. Moving each language's vectors by the
offset of that language's mean from the mean of all languages removes most of
this identity and keeps the meaning (after Libovický et al., 2020, "On the
language neutrality of pre-trained multilingual representations", who centre
each language on zero; centring on the common mean instead leaves a
one-language corpus exactly as it was). Measured on public parallel data in
``bench/language_centering.py``.

The index stores centred, re-normalised vectors; the raw ones stay in the
database. Centroids are running sums per language, shrunk towards the global
mean while a language has few chunks; when they drift past a tolerance the
index is rebuilt from the raw vectors, so the centring is always consistent
within one generation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

UNKNOWN = ""  # chunks and queries whose language was not detected


def _language(value: str | None) -> str:
    return value or UNKNOWN


@dataclass
class LanguageCentroids:
    """Per-language sums and counts of raw vectors, and the means the index applies."""

    dimension: int
    strength: float = 1.0
    shrinkage: int = 10
    sums: dict[str, np.ndarray] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    applied: dict[str, np.ndarray] = field(default_factory=dict)

    def add(self, languages: list[str | None], vectors: np.ndarray, sign: int = 1) -> None:
        for language, vector in zip(languages, vectors, strict=True):
            key = _language(language)
            self.sums[key] = self.sums.get(key, np.zeros(self.dimension)) + sign * vector
            self.counts[key] = self.counts.get(key, 0) + sign

    def remove(self, languages: list[str | None], vectors: np.ndarray) -> None:
        self.add(languages, vectors, sign=-1)

    def means(self) -> dict[str, np.ndarray]:
        """Each language's mean, shrunk towards the global mean while it has few chunks."""
        total = sum(self.counts.values())
        if total <= 0:
            return {}
        overall = sum(self.sums.values()) / total
        means = {UNKNOWN: overall}
        for key, count in self.counts.items():
            if key != UNKNOWN and count > 0:
                means[key] = (self.sums[key] + self.shrinkage * overall) / (count + self.shrinkage)
        return means

    def drifted(self, tolerance: float) -> bool:
        """Whether the applied means are stale enough to rebuild the index."""
        means = self.means()
        if means.keys() != self.applied.keys():
            return True
        return any(np.linalg.norm(means[k] - self.applied[k]) > tolerance for k in means)

    def apply_current(self) -> None:
        self.applied = self.means()

    def center(self, vectors: np.ndarray, languages: list[str | None]) -> np.ndarray:
        """Vectors moved by their language's offset from the common mean, re-normalised.

        A text of unknown language is left as it is.
        """
        if not self.applied or self.strength == 0 or len(vectors) == 0:
            return np.ascontiguousarray(vectors, dtype=np.float32)
        overall = self.applied[UNKNOWN]
        offsets = np.stack([self.applied.get(_language(lang), overall) - overall
                            for lang in languages])
        centred = vectors - self.strength * offsets
        norms = np.linalg.norm(centred, axis=1, keepdims=True)
        return np.ascontiguousarray(centred / np.maximum(norms, 1e-12), dtype=np.float32)

    def to_json(self) -> str:
        def encode(d: dict[str, np.ndarray]) -> dict[str, list[float]]:
            return {k: v.tolist() for k, v in d.items()}

        return json.dumps({"sums": encode(self.sums), "counts": self.counts,
                           "applied": encode(self.applied)})

    @classmethod
    def from_json(cls, text: str | None, dimension: int, strength: float,
                  shrinkage: int) -> LanguageCentroids:
        centroids = cls(dimension, strength, shrinkage)
        if text:
            data = json.loads(text)
            centroids.sums = {k: np.array(v) for k, v in data["sums"].items()}
            centroids.counts = {k: int(v) for k, v in data["counts"].items()}
            centroids.applied = {k: np.array(v) for k, v in data["applied"].items()}
        return centroids
