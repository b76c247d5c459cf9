"""BM25 over analysed chunk terms with Tantivy: one index per generation, or one in memory.

Tantivy (the Rust engine behind Quickwit, through its official Python bindings) keeps a
compressed inverted index and scores with BM25 (k1 1.2, b 0.75, Lucene's idf), top-k with
block-max WAND: it reads the best postings, not every chunk that holds a common word. The
terms it indexes are the ones ``Analyzer`` made (stemmed, folded, stop words out), stored in
SQLite (``search.lexical.stored_terms``); Tantivy only splits them on spaces, so a chunk and a
query meet exactly where the analyser says they do, in every language.

An index on disk belongs to one generation: ``updated`` copies the previous generation's folder
and applies a publish's deletes and additions to the copy, so a reader of the old generation
never sees a half-applied publish. An index in memory (``build`` without a folder) serves a
search narrowed to some offices: its statistics are theirs alone
(``search.lexical.keyword_search``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import tantivy

_ID, _TERMS = "id", "terms"
_HEAP_BYTES = 64_000_000  # the writer's buffer before it flushes a segment
_LOCKS = (".tantivy-writer.lock", ".tantivy-meta.lock")


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field(_ID, stored=True, indexed=True, fast=True)
    # term frequencies, no positions: phrases are checked on the text as written
    builder.add_text_field(_TERMS, tokenizer_name="whitespace", index_option="freq")
    return builder.build()


def _sync_files(folder: Path) -> None:
    """Flush the files of an index's folder to disk."""
    for path in folder.iterdir():
        with open(path, "rb") as f:
            os.fsync(f.fileno())


def _sync_entries(folder: Path) -> None:
    """Flush a folder's entries to disk, so a rename in it survives a crash."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class KeywordIndex:
    """Chunk ids and their analysed terms in a Tantivy index, searched by BM25."""

    def __init__(self, index: tantivy.Index) -> None:
        self._index = index
        self._schema = index.schema
        self._searcher = index.searcher()

    # --- making one ------------------------------------------------------------------
    @classmethod
    def build(cls, rows: Iterable[tuple[int, str]], folder: Path | None = None) -> KeywordIndex:
        """An index of (chunk id, terms) rows: in memory, or written to ``folder`` (new)."""
        if folder is not None:
            folder.mkdir(parents=True)
        index = tantivy.Index(_schema(), path=str(folder) if folder else None)
        keywords = cls(index)
        keywords._apply([], rows)
        return keywords

    @classmethod
    def open(cls, folder: Path) -> KeywordIndex:
        return cls(tantivy.Index.open(str(folder)))

    @classmethod
    def updated(cls, source: Path, folder: Path, removed: Sequence[int],
                added: Iterable[tuple[int, str]]) -> KeywordIndex:
        """A copy of the index saved at ``source`` in ``folder``, with ``removed`` chunk ids
        deleted and ``added`` rows indexed; ``source`` is left as it is."""
        shutil.copytree(source, folder, ignore=shutil.ignore_patterns(*_LOCKS))
        keywords = cls.open(folder)
        keywords._apply(removed, added)
        return keywords

    @staticmethod
    def save(folder: Path, final: Path) -> None:
        """Make the index written at ``folder`` durable and name it ``final`` (atomic)."""
        for lock in _LOCKS:
            (folder / lock).unlink(missing_ok=True)
        _sync_files(folder)
        _sync_entries(folder)
        os.replace(folder, final)
        _sync_entries(final.parent)

    def _apply(self, removed: Sequence[int], added: Iterable[tuple[int, str]]) -> None:
        writer = self._index.writer(heap_size=_HEAP_BYTES, num_threads=1)
        for chunk_id in removed:
            writer.delete_documents_by_term(_ID, int(chunk_id))
        for chunk_id, terms in added:
            writer.add_document(tantivy.Document(id=int(chunk_id), terms=terms))
        writer.commit()
        writer.wait_merging_threads()
        self._index.reload()
        self._searcher = self._index.searcher()

    # --- searching ---------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._searcher.num_docs)

    def search(self, any_of: Sequence[str], all_of: Sequence[str], k: int, offset: int = 0,
               allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Up to ``k`` (chunk id, BM25 score) pairs from ``offset`` on, best first: chunks
        holding any of ``any_of`` (they score) and every one of ``all_of`` (they score too),
        among the ``allowed`` chunk ids when given."""
        if k <= 0 or not any_of or (allowed is not None and len(allowed) == 0):
            return []
        must = tantivy.Occur.Must
        clauses = [(must, tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, self._term(t)) for t in any_of]))]
        clauses += [(must, self._term(t)) for t in all_of]
        if allowed is not None:  # a filter, which must not score
            clauses.append((must, tantivy.Query.const_score_query(
                tantivy.Query.term_set_query(self._schema, _ID, allowed.tolist()), 0.0)))
        found = self._searcher.search(tantivy.Query.boolean_query(clauses), k, count=False,
                                      offset=offset)
        hits = [(self._searcher.doc(address)[_ID][0], score) for score, address in found.hits]
        return sorted(hits, key=lambda hit: (-hit[1], hit[0]))

    def _term(self, term: str) -> tantivy.Query:
        return tantivy.Query.term_query(self._schema, _TERMS, term)
