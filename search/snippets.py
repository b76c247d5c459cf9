"""Snippets: the passage of a chunk worth showing for a query, its terms highlighted.

A word is highlighted when its analysed form (in the chunk's language) is one
of the query's analysed terms, so "monitored" lights up for "monitoring" and
"télésurveillance" for "telesurveillance". Dense hits in another language often
share no word with the query; their snippet is then the chunk's beginning.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from pydantic import BaseModel

from search.lexical import Analyzer, word_spans

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


class Snippet(BaseModel):
    text: str
    highlights: list[tuple[int, int]]  # [start, end) character offsets into ``text``


class Highlighter:
    def __init__(self, analyzer: Analyzer, max_chars: int) -> None:
        self.analyzer = analyzer
        self.max_chars = max_chars

    def query_terms(self, query: str, languages: Collection[str | None]) -> set[str]:
        return {t for language in languages for t in self.analyzer.terms(query, language)}

    def snippet(self, text: str, terms: set[str], language: str | None) -> Snippet:
        """The window of whole sentences with most query terms, highlights inside it."""
        text = " ".join(text.split())
        spans = [(a, b) for a, b in word_spans(text)
                 if any(t in terms for t in self.analyzer.word_terms(text[a:b], language))]
        start, end, prefix = 0, len(text), ""
        if len(text) > self.max_chars:
            start = self._best_start(text, spans)
            end = start + self.max_chars
            if end < len(text):
                end = start + len(text[start:end].rsplit(" ", 1)[0])
            prefix = "… " if start else ""
        window = prefix + text[start:end] + (" …" if end < len(text) else "")
        shift = len(prefix) - start
        return Snippet(text=window, highlights=[(a + shift, b + shift) for a, b in spans
                                                if a >= start and b <= end])

    def _best_start(self, text: str, spans: list[tuple[int, int]]) -> int:
        starts = [0] + [m.end() for m in _SENTENCE_END.finditer(text)]
        return max(starts, key=lambda s: (sum(s <= a < s + self.max_chars for a, _ in spans),
                                          -s))
