"""Keyword (BM25) side of hybrid retrieval: language-aware analysis, terms stored in SQLite,
ranked by Tantivy."""

from __future__ import annotations

from search.lexical.analysis import (
    Analyzer,
    ParsedQuery,
    contains_phrase,
    parse_query,
    word_spans,
)
from search.lexical.keyword_index import KeywordIndex
from search.lexical.keyword_search import KeywordQuery, KeywordSearch, Scope
from search.lexical.stored_terms import StoredTerms

__all__ = ["Analyzer", "KeywordIndex", "KeywordQuery", "KeywordSearch", "ParsedQuery", "Scope",
           "StoredTerms", "contains_phrase", "parse_query", "word_spans"]
