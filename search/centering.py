"""Language-neutral vectors: each language's offset is taken out before comparing.

A multilingual encoder places each language in a region of its own: a German
query's nearest passages are German ones on other topics, ahead of the English
passage that states the same finding. Moving each language's vectors by the
offset of that language's mean from the mean of all languages removes most of
this identity and keeps the meaning (after Libovický et al., 2020, "On the
language neutrality of pre-trained multilingual representations").

The offsets are measured on a parallel reference text that ships with the
package (``reference_text/``: the same sentences and paragraphs in each language),
never on the corpus. A statistic over the corpus would let one office's documents
move the scores that a key limited to other offices sees; a parallel text also
measures language alone, since every language says the same things and topic
cancels out of the difference of means. A language's offset depends on the length
of the text, so its mean is taken over short texts (pairs of sentences, like
queries) and over paragraphs (like chunks) alike. Offsets are measured from
English, the language the offices share: an English text stays as it is, so a
one-language English corpus ranks as without centring. Measured against no
centring and corpus centroids in ``bench/language_centering.py``.

The index stores centred, re-normalised vectors and each generation records the
offsets it was centred with (``key``): a publish whose current offsets differ (a
new strength, model or reference) re-centres the index from the raw vectors.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

REFERENCE_DIR = Path(__file__).resolve().parent / "reference_text"
PIVOT = "en"  # the language whose texts centring leaves as they are


class DocumentEncoder(Protocol):
    model_id: str

    def encode_documents(self, texts: list[str]) -> np.ndarray: ...


@cache
def reference_texts() -> dict[str, dict[str, list[str]]]:
    """The parallel reference text: length class -> language code -> texts, line for line.

    Short texts are consecutive pairs of the reference sentences; long ones are paragraphs.
    """
    def read(folder: str) -> dict[str, list[str]]:
        return {path.stem: path.read_text(encoding="utf-8").splitlines()
                for path in sorted((REFERENCE_DIR / folder).glob("*.txt"))}

    pairs = {language: [" ".join(lines[i:i + 2]) for i in range(0, len(lines), 2)]
             for language, lines in read("sentences").items()}
    return {"short": pairs, "paragraphs": read("paragraphs")}


@cache
def _reference_digest() -> str:
    text = json.dumps(reference_texts(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def offsets_key(model_id: str, strength: float) -> str:
    """What a set of offsets depends on; an index centred under another key is stale."""
    return f"{model_id}|{_reference_digest()}|{strength:g}"


@dataclass(frozen=True)
class LanguageOffsets:
    """The vector each language's texts are moved by, and what it was measured with."""

    key: str = ""  # "" : nothing applied (an empty knowledge base)
    strength: float = 0.0
    offsets: dict[str, np.ndarray] = field(default_factory=dict)

    def center(self, vectors: np.ndarray, languages: list[str | None]) -> np.ndarray:
        """Vectors moved by their language's offset, re-normalised.

        A text of undetected language, or of a language the reference lacks, stays as it is.
        """
        if not self.offsets or self.strength == 0 or len(vectors) == 0:
            return np.ascontiguousarray(vectors, dtype=np.float32)
        zero = np.zeros(vectors.shape[1])
        shifts = np.stack([self.offsets.get(lang or "", zero) for lang in languages])
        centred = vectors - self.strength * shifts
        norms = np.linalg.norm(centred, axis=1, keepdims=True)
        return np.ascontiguousarray(centred / np.maximum(norms, 1e-12), dtype=np.float32)

    def to_json(self) -> str:
        return json.dumps({"key": self.key, "strength": self.strength,
                           "offsets": {k: v.tolist() for k, v in self.offsets.items()}})

    @classmethod
    def from_json(cls, text: str | None) -> LanguageOffsets:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(data["key"], data["strength"],
                   {k: np.array(v) for k, v in data["offsets"].items()})


@lru_cache(maxsize=4)
def measure_offsets(encoder: DocumentEncoder, strength: float,
                    cache_dir: Path | None = None) -> LanguageOffsets:
    """Each reference language's mean minus English's, as ``encoder`` sees them.

    A language's mean is the mean of its short texts' mean and its paragraphs' mean. They
    are the same for every knowledge base of a model, whatever its strength, so ``cache_dir``
    keeps them unscaled: embedding the reference costs seconds, once per model rather than
    once per process or strength.
    """
    key = offsets_key(encoder.model_id, strength)
    if strength == 0:
        return LanguageOffsets(key, strength)
    return LanguageOffsets(key, strength, _unscaled_offsets(encoder, cache_dir))


def _unscaled_offsets(encoder: DocumentEncoder, cache_dir: Path | None
                      ) -> dict[str, np.ndarray]:
    """The unscaled offsets, read from ``cache_dir`` or measured (and kept there)."""
    unscaled = offsets_key(encoder.model_id, 1.0)
    cached = _cache_file(cache_dir, unscaled)
    if cached is not None and cached.exists():
        stored = LanguageOffsets.from_json(cached.read_text(encoding="utf-8"))
        if stored.key == unscaled:
            return stored.offsets
    offsets = _reference_offsets(encoder)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(LanguageOffsets(unscaled, 1.0, offsets).to_json(), encoding="utf-8")
        partial.replace(cached)  # readers see the whole file or none
    return offsets


@lru_cache(maxsize=4)
def _reference_offsets(encoder: DocumentEncoder) -> dict[str, np.ndarray]:
    """Each language's mean minus English's, unscaled: the same at every strength."""
    by_length = [{language: encoder.encode_documents(texts).mean(axis=0)
                  for language, texts in by_language.items()}
                 for by_language in reference_texts().values()]
    means = {language: np.mean([m[language] for m in by_length], axis=0)
             for language in by_length[0]}
    return {k: m - means[PIVOT] for k, m in means.items()}


def _cache_file(cache_dir: Path | None, key: str) -> Path | None:
    if cache_dir is None:
        return None
    return cache_dir / "language_offsets" / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"
