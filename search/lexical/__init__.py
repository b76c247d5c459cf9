"""Keyword (BM25) side of hybrid retrieval: language-aware analysis + SQLite FTS5."""

from __future__ import annotations

from search.lexical.analysis import (
    Analyzer,
    ParsedQuery,
    contains_phrase,
    parse_query,
    word_spans,
)
from search.lexical.fts import LexicalIndex

__all__ = ["Analyzer", "LexicalIndex", "ParsedQuery", "contains_phrase", "parse_query",
           "word_spans"]
