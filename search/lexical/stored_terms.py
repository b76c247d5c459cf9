"""The analysed terms of every chunk, stored in SQLite beside the chunk itself.

The database is the record; a generation's keyword index (``search.lexical.keyword_index``)
is derived from these rows, and rebuilt from them when it is missing or was made by another
analysis. Functions take the caller's connection and never commit: a chunk and its terms are
written, or rolled back, together.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator

from search.lexical.analysis import ANALYSIS_VERSION, Analyzer
from search.sql import NO_FILTER, get_meta, set_meta

TABLE = "chunk_terms"  # created with every other table (``search.schema``)
_ANALYSIS_META = "lexical_analysis"
_CHANGES_META = "lexical_changes"  # counts publishes, which may move chunks between offices


class StoredTerms:
    """Writes and reads the ``chunk_terms`` table through one analyser."""

    def __init__(self, analyzer: Analyzer) -> None:
        self.analyzer = analyzer

    def add(self, db: sqlite3.Connection, rows: Iterable[tuple[int, str, str | None]]
            ) -> list[tuple[int, str]]:
        """Analyse and store (chunk id, text, language) rows, replacing a chunk's old terms;
        returns the (chunk id, terms) stored. A chunk with no terms still gets a row."""
        analysed = [(chunk_id, " ".join(self.analyzer.terms(text, language)))
                    for chunk_id, text, language in rows]
        db.executemany(f"INSERT OR REPLACE INTO {TABLE}(chunk_id, terms) VALUES (?, ?)",
                       analysed)
        return analysed

    @staticmethod
    def delete(db: sqlite3.Connection, chunk_ids: Iterable[int]) -> None:
        db.executemany(f"DELETE FROM {TABLE} WHERE chunk_id = ?", ((i,) for i in chunk_ids))

    @staticmethod
    def count(db: sqlite3.Connection) -> int:
        return int(db.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0])

    @staticmethod
    def rows(db: sqlite3.Connection, where: str = NO_FILTER, params: Iterable = ()
             ) -> Iterator[tuple[int, str]]:
        """(chunk id, terms) of the chunks passing ``where`` over ``c`` (chunks) and ``d``
        (documents)."""
        cursor = db.cursor()
        cursor.row_factory = None
        yield from cursor.execute(
            f"SELECT t.chunk_id, t.terms FROM {TABLE} AS t JOIN chunks AS c ON c.id = t.chunk_id"
            f" JOIN documents AS d ON d.id = c.document_id WHERE ({where})", tuple(params))

    def reanalyse_if_changed(self, db: sqlite3.Connection) -> bool:
        """Re-analyse every chunk when the analysis has changed; whether it did.

        The analysis version is kept in ``meta``: terms written by another version would
        never meet the terms of today's queries. Keyword indexes are named by the version
        (``search.generations``), so the next load rebuilds them from these rows.
        """
        if get_meta(db, _ANALYSIS_META) == ANALYSIS_VERSION:
            return False
        db.execute(f"DELETE FROM {TABLE}")
        self.add(db, db.execute("SELECT id, text, language FROM chunks"))
        self.mark_changed(db)
        set_meta(db, _ANALYSIS_META, ANALYSIS_VERSION)
        return True

    @staticmethod
    def mark_changed(db: sqlite3.Connection) -> None:
        """Count a publish that may have changed which chunks an office holds (a put, a
        delete, a move to another office's folder): what was kept per office is stale."""
        db.execute(f"INSERT INTO meta(key, value) VALUES ('{_CHANGES_META}', '1') "
                   "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")

    @staticmethod
    def changes(db: sqlite3.Connection) -> str:
        """The publish counter ``mark_changed`` moves, as read in this connection."""
        return get_meta(db, _CHANGES_META) or "0"
