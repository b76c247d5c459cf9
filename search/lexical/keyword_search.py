"""A keyword search: a query's analysed terms ranked by BM25 in the right keyword index.

User input never reaches a query syntax: the query is analysed into terms (in each of the
languages it may be in) and each term becomes a term query, so operators, parentheses, ``*``,
``-`` or ``:`` are just characters that analysis has already discarded. Quoted phrases
require their terms; the phrase as written is then checked on each candidate's text.

Which index answers decides the statistics. An open search ranks in the generation's index,
over every chunk. A search narrowed to offices (by a filter, or by a key limited to them) ranks
in a *view*: an in-memory index of those offices' chunks alone, so that from its scores a
Paris-only key cannot work out how many hidden chunks hold a word. A view is built at its first
search and kept until a publish changes what the offices hold.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from search.lexical.analysis import contains_phrase, parse_query
from search.lexical.keyword_index import KeywordIndex
from search.lexical.stored_terms import StoredTerms
from search.sql import by_id

# With phrases, the required terms only narrow the candidates (stems, not the words as
# written); the rest are read in pages of this many times k until k verified hits are found.
_PHRASE_PAGE_FACTOR = 4
_MIN_PHRASE_PAGE = 50


def _unique(terms: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(t for t in terms if t))


@dataclass(frozen=True)
class KeywordQuery:
    """A query's terms: any of ``any_of`` ranks a chunk, ``all_of`` (its phrases' terms) are
    required, and ``phrases`` must appear as written."""

    any_of: tuple[str, ...]
    all_of: tuple[str, ...]
    phrases: tuple[str, ...]


@dataclass(frozen=True)
class Scope:
    """The chunks a narrowed search's statistics are taken over: an SQL condition over ``c``
    (chunks) and ``d`` (documents)."""

    where: str
    params: tuple


class KeywordSearch:
    """Analyses queries and ranks them in a generation's keyword index or in a view."""

    def __init__(self, stored: StoredTerms, views_kept: int) -> None:
        self.stored = stored
        self.analyzer = stored.analyzer
        self._views_kept = views_kept
        self._views: OrderedDict[tuple, KeywordIndex] = OrderedDict()
        self._lock = threading.Lock()

    def read(self, query: str, languages: Sequence[str | None]) -> KeywordQuery:
        """The query analysed in each of ``languages`` (the one detected, or every configured
        one when it is unknown): every resulting term may rank a chunk."""
        parsed = parse_query(query)
        required = [t for phrase in parsed.phrases for t in self._terms(phrase, languages)]
        return KeywordQuery(tuple(self._terms(parsed.text, languages)),
                            tuple(_unique(required)), parsed.phrases)

    def _terms(self, text: str, languages: Sequence[str | None]) -> list[str]:
        return _unique(t for language in languages for t in self.analyzer.terms(text, language))

    def search(self, db: sqlite3.Connection, keywords: KeywordIndex, generation: int,
               query: str, languages: Sequence[str | None], k: int,
               scope: Scope | None = None, allowed: np.ndarray | None = None
               ) -> list[tuple[int, float]]:
        """Up to ``k`` (chunk id, BM25 score) pairs, best first, among the ``allowed`` chunks
        when given; ``scope`` narrows the statistics (and the hits) to some offices' chunks.
        ``keywords`` is the generation's index, ``db`` a connection on its snapshot."""
        read = self.read(query, languages)
        if k <= 0 or not read.any_of:
            return []
        index = keywords if scope is None else self._view(db, generation, scope)
        if not read.phrases:
            return index.search(read.any_of, read.all_of, k, 0, allowed)
        return self._verified(db, index, read, k, allowed)

    def _verified(self, db: sqlite3.Connection, index: KeywordIndex, read: KeywordQuery,
                  k: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        """Read candidates page by page, keeping those with every phrase as written."""
        page = max(k * _PHRASE_PAGE_FACTOR, _MIN_PHRASE_PAGE)
        hits: list[tuple[int, float]] = []
        offset = 0
        while len(hits) < k:
            found = index.search(read.any_of, read.all_of, page, offset, allowed)
            texts = by_id(db, "SELECT id, text FROM chunks", [i for i, _ in found])
            hits += [(i, score) for i, score in found
                     if i in texts and all(contains_phrase(texts[i], p) for p in read.phrases)]
            if len(found) < page:
                break
            offset += page
        return hits[:k]

    def _view(self, db: sqlite3.Connection, generation: int, scope: Scope) -> KeywordIndex:
        """The in-memory index of the scope's chunks, as this snapshot holds them."""
        key = (generation, self.stored.changes(db), scope.where, scope.params)
        with self._lock:
            view = self._views.get(key)
            if view is None:
                view = KeywordIndex.build(self.stored.rows(db, scope.where, scope.params))
                self._views[key] = view
                while len(self._views) > self._views_kept:
                    self._views.popitem(last=False)
            self._views.move_to_end(key)
            return view
