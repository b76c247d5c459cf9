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

Word vectors are read from those a publish stored (``search.word_vectors``); a word no
stored chunk holds (in a typed finding) is embedded here and kept in memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np

from search.database import Database
from search.lexical import Analyzer
from search.records import SharedTerm
from search.word_vectors import meaning_keys, passage_words, stored_word_vectors

if TYPE_CHECKING:
    from search.embedding import Encoder

_MAX_SHARED = 12
_CACHE_WORDS = 50_000


class TermAligner:
    """Pairs the terms of two passages; one per knowledge base, thread-safe."""

    def __init__(self, database: Database, encoder: Encoder, analyzer: Analyzer,
                 threshold: float) -> None:
        self.database = database
        self.encoder = encoder
        self.analyzer = analyzer
        self.threshold = threshold
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def shared_terms(self, source: str, source_language: str | None, target: str,
                     target_language: str | None, by_meaning: bool = True) -> list[SharedTerm]:
        """Terms of ``source`` paired with terms of ``target``, exact matches first.

        Pairing by meaning compares every pair of words, so a caller explaining many
        passages may ask for exact matches only.
        """
        left = passage_words(self.analyzer, source, source_language)
        right = passage_words(self.analyzer, target, target_language)
        exact_keys = left.keys() & right.keys()
        shared = [SharedTerm(source=left[k], target=right[k], similarity=1.0, exact=True)
                  for k in sorted(exact_keys, key=list(left).index)]
        if by_meaning:
            shared += self._by_meaning(left, meaning_keys(left, exact_keys),
                                       right, meaning_keys(right, exact_keys))
        return shared[:_MAX_SHARED]

    def _by_meaning(self, left_words: dict[str, str], left: list[str],
                    right_words: dict[str, str], right: list[str]) -> list[SharedTerm]:
        """Mutual best matches among the words of ``left`` and ``right`` (their keys)."""
        if not left or not right:
            return []
        similarities = self._vectors_of(left) @ self._vectors_of(right).T
        best_right = similarities.argmax(axis=1)
        best_left = similarities.argmax(axis=0)
        pairs = [(i, int(j), float(similarities[i, j])) for i, j in enumerate(best_right)
                 if best_left[j] == i and similarities[i, j] >= self.threshold]
        pairs.sort(key=lambda p: -p[2])
        return [SharedTerm(source=left_words[left[i]], target=right_words[right[j]],
                           similarity=round(s, 4), exact=False) for i, j, s in pairs]

    def _vectors_of(self, keys: list[str]) -> np.ndarray:
        """One vector per word key: stored by a publish, kept here, or embedded now."""
        with self._lock:
            known = {k: self._vectors[k] for k in keys if k in self._vectors}
        if len(known) < len(keys):
            with self.database.connect() as db:
                known.update(stored_word_vectors(db, self.encoder.model_id,
                                                 [k for k in keys if k not in known]))
        missing = list(dict.fromkeys(k for k in keys if k not in known))
        if missing:
            known.update(zip(missing, self.encoder.encode_queries(missing), strict=True))
        with self._lock:
            self._vectors.update((k, known[k]) for k in keys)
            while len(self._vectors) > _CACHE_WORDS:  # oldest first
                self._vectors.popitem(last=False)
        return np.stack([known[k] for k in keys])
