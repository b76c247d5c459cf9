"""Why two passages match: the terms they share, spelled alike or paired by meaning.

A bridge between an English interview and a German report rarely shares a
word ("readmissions" / "Klinikaufnahmen"), so spelling alone cannot explain
it. Each passage's content words (stop words dropped) are compared twice:

- spelled alike, after case and accent folding: names, acronyms, numbers
  ("CGM", "Medicaid", "54");
- by meaning: each remaining word is embedded on its own by the same
  multilingual encoder, and two words pair when each is the other's most
  similar word and their cosine reaches ``term_similarity`` (mutual best
  match, as in SimAlign's argmax alignment of Jalili Sabet et al., 2020).

Word vectors are cached: passages of one corpus repeat their vocabulary.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np

from search.lexical import Analyzer
from search.lexical.analysis import fold_accents
from search.records import SharedTerm

if TYPE_CHECKING:
    from search.embedding import Encoder

_MAX_WORDS = 48  # per passage: enough for a 200-token chunk's content words
_MIN_MEANING_CHARS = 4  # shorter words pair by spelling only
_MAX_SHARED = 12
_CACHE_WORDS = 50_000


def _key(word: str) -> str:
    return fold_accents(word.casefold())


def _is_number(word: str) -> bool:
    return any(ch.isdigit() for ch in word)


def _unmatched(words: dict[str, str], matched: set[str]) -> list[str]:
    """Words left to pair by meaning: not matched already, long enough to mean something."""
    return [w for k, w in words.items()
            if k not in matched and len(w) >= _MIN_MEANING_CHARS and not _is_number(w)]


class TermAligner:
    """Pairs the terms of two passages; one per knowledge base, thread-safe."""

    def __init__(self, encoder: Encoder, analyzer: Analyzer, threshold: float) -> None:
        self.encoder = encoder
        self.analyzer = analyzer
        self.threshold = threshold
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def shared_terms(self, source: str, source_language: str | None, target: str,
                     target_language: str | None, by_meaning: bool = True) -> list[SharedTerm]:
        """Terms of ``source`` paired with terms of ``target``, exact matches first.

        Pairing by meaning costs one encoder pass per new word, so a caller
        explaining many passages may ask for exact matches only.
        """
        left = self._words(source, source_language)
        right = self._words(target, target_language)
        exact_keys = left.keys() & right.keys()
        shared = [SharedTerm(source=left[k], target=right[k], similarity=1.0, exact=True)
                  for k in sorted(exact_keys, key=list(left).index)]
        if by_meaning:
            shared += self._by_meaning(_unmatched(left, exact_keys), _unmatched(right, exact_keys))
        return shared[:_MAX_SHARED]

    def _words(self, text: str, language: str | None) -> dict[str, str]:
        """Folded key -> the word as first written; short words only when numbers."""
        words: dict[str, str] = {}
        for word in self.analyzer.content_words(text, language):
            if len(word) >= 3 or _is_number(word):
                words.setdefault(_key(word), word)
            if len(words) == _MAX_WORDS:
                break
        return words

    def _by_meaning(self, left: list[str], right: list[str]) -> list[SharedTerm]:
        if not left or not right:
            return []
        similarities = self._embed(left) @ self._embed(right).T
        best_right = similarities.argmax(axis=1)
        best_left = similarities.argmax(axis=0)
        pairs = [(i, int(j), float(similarities[i, j])) for i, j in enumerate(best_right)
                 if best_left[j] == i and similarities[i, j] >= self.threshold]
        pairs.sort(key=lambda p: -p[2])
        return [SharedTerm(source=left[i], target=right[j], similarity=round(s, 4), exact=False)
                for i, j, s in pairs]

    def _embed(self, words: list[str]) -> np.ndarray:
        keys = [_key(w) for w in words]
        with self._lock:
            known = {k: self._vectors[k] for k in keys if k in self._vectors}
        missing = list(dict.fromkeys(k for k in keys if k not in known))
        if missing:
            known.update(zip(missing, self.encoder.encode_queries(missing), strict=True))
            with self._lock:
                self._vectors.update((k, known[k]) for k in missing)
                while len(self._vectors) > _CACHE_WORDS:  # oldest first
                    self._vectors.popitem(last=False)
        return np.stack([known[k] for k in keys])
