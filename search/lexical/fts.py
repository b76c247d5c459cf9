"""BM25 keyword search over chunks with an SQLite FTS5 table.

The table stores the *analysed* terms of each chunk (stemmed, stop words
removed, accents folded by ``Analyzer``), one row per chunk with
rowid = ``chunks.id``. FTS5's own tokenizer then only has to split on spaces;
``remove_diacritics 2`` is a second line of defence, not the folding itself.
SQLite 3.40 has no ``contentless_delete``, so the table keeps its content,
which is what makes ``DELETE ... WHERE rowid = ?`` possible.

User input never reaches FTS5 syntax: every term is emitted as a quoted FTS5
string, so operators, parentheses, ``*``, ``NEAR``, ``-`` or ``:`` in a query
are just characters that analysis has already discarded.

A search narrowed to offices (by a filter, or by a key limited to them) is scored with
statistics of those offices alone: FTS5's bm25() counts every row of the table, so from its
scores a Paris-only key could work out how many hidden chunks hold a word. Such a search
reads its matching rows and scores them here with the same BM25 (FTS5's k1, b and idf),
its document frequencies and lengths taken over the visible chunks only.
"""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence

from search.lexical.analysis import ANALYSIS_VERSION, Analyzer, contains_phrase, parse_query
from search.sql import NO_FILTER

TABLE = "chunk_terms"  # created with every other table (``search.schema``)

# With phrases, FTS5 only narrows the candidates (it sees stems, not the
# words as written); the rest are read in pages of this many times k until
# k verified hits are found or the candidates run out.
_PHRASE_PAGE_FACTOR = 4
_MIN_PHRASE_PAGE = 50
# FTS5's bm25() constants, so that a narrowed search scores as an open one would.
_K1, _B = 1.2, 0.75
_TOKENS = "length(t.terms) - length(replace(t.terms, ' ', '')) + (length(t.terms) > 0)"
_CHANGES = "lexical_changes"  # the meta key counting publishes
_SIZES_KEPT = 256  # filters whose visible size is kept at once
_VISIBLE = (f"FROM {TABLE} AS t JOIN chunks AS c ON c.id = t.rowid "
            "JOIN documents AS d ON d.id = c.document_id")


def _quote(term: str) -> str:
    """An FTS5 string literal: the term can never be read as an operator."""
    return '"' + term.replace('"', '""') + '"'


def _unique(terms: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(t for t in terms if t))


class LexicalIndex:
    """The ``chunk_terms`` FTS5 table, used inside the caller's connection.

    Methods never commit: the caller owns the transaction, so chunk rows and
    their terms are written (or rolled back) together.
    """

    def __init__(self, analyzer: Analyzer) -> None:
        self.analyzer = analyzer
        # (changes, filter) -> visible chunks and terms, for searches narrowed to offices
        self._sizes: dict[tuple[object, str, tuple], tuple[int, float]] = {}

    def reanalyse_if_changed(self, db: sqlite3.Connection) -> None:
        """Re-analyse every chunk when the analysis has changed.

        The analysis version is kept in the database's ``meta`` table: terms
        written by another version would never meet the terms of today's queries.
        """
        row = db.execute("SELECT value FROM meta WHERE key = 'lexical_analysis'").fetchone()
        if row is not None and row[0] == ANALYSIS_VERSION:
            return
        db.execute(f"DELETE FROM {TABLE}")
        self.add(db, db.execute("SELECT id, text, language FROM chunks"))
        self.mark_changed(db)
        db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('lexical_analysis', ?)",
                   (ANALYSIS_VERSION,))

    def add(self, db: sqlite3.Connection, rows: Iterable[tuple[int, str, str | None]]) -> None:
        """Index (chunk_id, text, language) rows; re-adding a chunk replaces it.

        A chunk with no terms (only punctuation, say) still gets a row, so
        ``count`` equals the number of indexed chunks.
        """
        db.executemany(
            f"INSERT OR REPLACE INTO {TABLE}(rowid, terms) VALUES (?, ?)",
            (
                (chunk_id, " ".join(self.analyzer.terms(text, language)))
                for chunk_id, text, language in rows
            ),
        )

    @staticmethod
    def mark_changed(db: sqlite3.Connection) -> None:
        """Count a publish that may have changed which chunks an office holds (a put, a
        delete, a move to another office's folder): sizes kept from before are stale."""
        db.execute(f"INSERT INTO meta(key, value) VALUES ('{_CHANGES}', '1') ON CONFLICT(key)"
                   " DO UPDATE SET value = CAST(value AS INTEGER) + 1")

    def delete(self, db: sqlite3.Connection, chunk_ids: Iterable[int]) -> None:
        db.executemany(f"DELETE FROM {TABLE} WHERE rowid = ?", ((i,) for i in chunk_ids))

    def count(self, db: sqlite3.Connection) -> int:
        return int(db.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0])

    def _terms(self, text: str, languages: Sequence[str | None]) -> list[str]:
        return _unique(t for language in languages for t in self.analyzer.terms(text, language))

    def match_expression(self, query: str, languages: Sequence[str | None]
                         ) -> tuple[str, tuple[str, ...]]:
        """The FTS5 MATCH string for ``query`` and the phrases hits must contain.

        The query is analysed in each of ``languages`` (the one detected, or
        every configured one when a short query leaves it unknown) and every
        resulting term is OR-ed, which ranks by BM25 over all of them.
        Each phrase's terms are additionally required (AND). They are not
        required to be adjacent in the FTS5 sense: stop-word removal depends
        on each chunk's language, so adjacency of analysed terms is not
        reliable across languages; ``contains_phrase`` does the exact check.
        An empty string means there is nothing to search for.
        """
        expression, phrases, _ = self._match(query, languages)
        return expression, phrases

    def _match(self, query: str, languages: Sequence[str | None]
               ) -> tuple[str, tuple[str, ...], list[str]]:
        """``match_expression``'s answer, and every term it holds."""
        parsed = parse_query(query)
        free = self._terms(parsed.text, languages)
        if not free:
            return "", parsed.phrases, []
        clauses = ["(" + " OR ".join(_quote(t) for t in free) + ")"]
        terms = list(free)
        for phrase in parsed.phrases:
            required = self._terms(phrase, languages)
            if required:
                clauses.append("(" + " AND ".join(_quote(t) for t in required) + ")")
                terms.extend(required)
        return " AND ".join(clauses), parsed.phrases, _unique(terms)

    def search(
        self,
        db: sqlite3.Connection,
        query: str,
        languages: Sequence[str | None],
        k: int,
        where: str = NO_FILTER,
        params: Sequence = (),
        narrowed: bool = False,
    ) -> list[tuple[int, float]]:
        """Up to ``k`` (chunk_id, score) pairs, best first; score = -bm25 > 0.

        ``where``/``params`` is the caller's SQL condition over ``c``
        (chunks) and ``d`` (documents); it is applied before the LIMIT so a
        filtered search still returns k hits when k exist. ``narrowed``: the condition
        narrows to offices, whose statistics alone score the hits.
        """
        if k <= 0:
            return []
        expression, phrases, terms = self._match(query, languages)
        if not expression:
            return []
        if narrowed:
            return self._scored_over_visible(db, expression, phrases, terms, where, params)[:k]
        if not phrases:
            rows = self._page(db, expression, where, params, limit=k, offset=0)
            return [(chunk_id, -bm25) for chunk_id, bm25 in rows]
        return self._verified(db, expression, phrases, where, params, k)

    def _scored_over_visible(self, db: sqlite3.Connection, expression: str,
                             phrases: tuple[str, ...], wanted: list[str], where: str,
                             params: Sequence) -> list[tuple[int, float]]:
        """Every visible match, with BM25 over the visible chunks, best first."""
        rows = db.execute(
            f"SELECT c.id, t.terms{', c.text' if phrases else ''} {_VISIBLE} "
            f"WHERE {TABLE} MATCH ? AND ({where})", (expression, *params)).fetchall()
        holding = rows  # every visible chunk holding a wanted term, for their frequencies
        if phrases:
            holding = db.execute(f"SELECT c.id, t.terms {_VISIBLE} WHERE {TABLE} MATCH ? AND "
                                 f"({where})", (" OR ".join(map(_quote, wanted)), *params)
                                 ).fetchall()
            rows = [r for r in rows if all(contains_phrase(r[2], p) for p in phrases)]
        if not rows:
            return []
        count, tokens = self._visible_size(db, where, params)
        frequency = Counter(term for row in holding for term in set(row[1].split()) & set(wanted))
        documents = [(row[0], Counter(row[1].split())) for row in rows]
        average = tokens / count if count else 1.0
        scored = []
        for chunk_id, terms in documents:
            length = sum(terms.values())
            score = sum(_idf(count, frequency[term]) * terms[term] * (_K1 + 1)
                        / (terms[term] + _K1 * (1 - _B + _B * length / average))
                        for term in wanted if term in terms)
            scored.append((chunk_id, score))
        return sorted(scored, key=lambda hit: (-hit[1], hit[0]))

    def _visible_size(self, db: sqlite3.Connection, where: str, params: Sequence
                      ) -> tuple[int, float]:
        """How many visible chunks there are and how many terms they hold: a scan of the
        visible chunks, so kept until a publish changes them (``mark_changed``)."""
        row = db.execute(f"SELECT value FROM meta WHERE key = '{_CHANGES}'").fetchone()
        key = (row[0] if row else None, where, tuple(params))
        size = self._sizes.get(key) if row else None
        if size is None:
            size = db.execute(f"SELECT count(*), total({_TOKENS}) {_VISIBLE} WHERE ({where})",
                              tuple(params)).fetchone()
            if row:
                if len(self._sizes) >= _SIZES_KEPT:
                    self._sizes.clear()
                self._sizes[key] = size
        return size

    def _verified(
        self,
        db: sqlite3.Connection,
        expression: str,
        phrases: tuple[str, ...],
        where: str,
        params: Sequence,
        k: int,
    ) -> list[tuple[int, float]]:
        """Read candidates page by page, keeping those with every exact phrase."""
        page = max(k * _PHRASE_PAGE_FACTOR, _MIN_PHRASE_PAGE)
        hits: list[tuple[int, float]] = []
        offset = 0
        while len(hits) < k:
            rows = self._page(db, expression, where, params, limit=page, offset=offset,
                              with_text=True)
            hits.extend(
                (chunk_id, -bm25)
                for chunk_id, bm25, text in rows
                if all(contains_phrase(text, p) for p in phrases)
            )
            if len(rows) < page:
                break
            offset += page
        return hits[:k]

    def _page(
        self,
        db: sqlite3.Connection,
        expression: str,
        where: str,
        params: Sequence,
        limit: int,
        offset: int,
        with_text: bool = False,
    ) -> list[sqlite3.Row]:
        """(id, bm25[, text]) rows, best first; rowid (= chunk id) breaks bm25 ties so
        pages never overlap or skip a row."""
        if where == NO_FILTER and not with_text:
            # Nothing to filter or verify: the FTS table ranks alone, with no join per
            # match.
            sql = (f"SELECT rowid, bm25({TABLE}) AS bm25 FROM {TABLE} WHERE {TABLE} MATCH ?"
                   " ORDER BY bm25, rowid LIMIT ? OFFSET ?")
            return db.execute(sql, (expression, limit, offset)).fetchall()
        sql = (
            f"SELECT c.id AS id, bm25({TABLE}) AS bm25{', c.text' if with_text else ''} "
            f"FROM {TABLE} "
            f"JOIN chunks AS c ON c.id = {TABLE}.rowid "
            "JOIN documents AS d ON d.id = c.document_id "
            f"WHERE {TABLE} MATCH ? AND ({where}) "
            "ORDER BY bm25, c.id LIMIT ? OFFSET ?"
        )
        return db.execute(sql, (expression, *params, limit, offset)).fetchall()



def _idf(documents: int, holding: int) -> float:
    """FTS5's idf: log((N - n + 0.5) / (n + 0.5)), never below a small positive floor."""
    idf = math.log((documents - holding + 0.5) / (holding + 0.5))
    return idf if idf > 0 else 1e-6
