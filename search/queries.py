"""Reading a query: its free text, its "quoted phrases", its language, its vector and whether
it names something.

A query is read once, however deep it is then ranked: searches, document rankings and
bridges from free text all start from a ``Query``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from search.embedding import Encoder
from search.language import LanguageDetector
from search.lexical import Analyzer, parse_query
from search.naming import load_frequencies, names_something
from search.records import SearchMode, valid_utf8


@dataclass(frozen=True)
class Query:
    """A query as each side reads it."""

    raw: str  # what the keyword side parses (phrases in quotes)
    text: str  # what the dense side embeds (quotes removed)
    phrases: tuple[str, ...]
    language: str | None
    vector: np.ndarray | None  # ``text`` embedded (not yet centred); None for keyword-only
    names_something: bool = False  # a name or a code, in a few words (``search.naming``)

    def lexical_languages(self, configured: Sequence[str]) -> list[str | None]:
        """The detected language, or every configured one when none was detected; a query
        that names something is read in every configured one too: a few words around a name
        are too few to tell a language by ("OSSADO-9 trial" reads as Portuguese), and a
        wrong language's stems would miss the passage that holds the name."""
        if self.language and not self.names_something:
            return [self.language]
        return list(dict.fromkeys([*([self.language] if self.language else []), *configured]))


class QueryReader:
    """Parses queries, detects their language and embeds them."""

    def __init__(self, encoder: Encoder, detector: LanguageDetector, analyzer: Analyzer,
                 languages: Sequence[str], naming_words: int) -> None:
        self.encoder = encoder
        self.detector = detector
        self.analyzer = analyzer
        self.languages = list(languages)
        self.naming_words = naming_words

    def prepare(self) -> None:
        """Load now what the first query would wait for (both load at first use, so that
        commands that read no query never pay): the language detector, the model and its
        query session, the word frequencies."""
        self.detector.load()
        load_frequencies(self.languages)
        self.encoder.prepare_queries()

    def read(self, query: str, mode: SearchMode = SearchMode.hybrid) -> Query:
        """The query parsed, its language detected and, unless ``mode`` is keyword-only,
        embedded."""
        query = valid_utf8(query)
        parsed = parse_query(query)
        text = parsed.text or query
        vector = self.encoder.encode_query(text) if mode != SearchMode.lexical else None
        language = self.detector.detect(parsed.text)
        words = self.analyzer.content_words(text, language)
        return Query(query, text, parsed.phrases, language, vector,
                     names_something(words, self.languages, self.naming_words))
