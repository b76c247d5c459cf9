"""Language-aware text analysis for keyword (BM25) retrieval.

Chunks are indexed and queries are searched through the same ``Analyzer``, so
whatever it does to a word on one side it does on the other: inflected forms
("monitoring", "monitored") meet on their Snowball stem, accented and
unaccented spellings ("télésurveillance", "telesurveillance") meet once the
accents are folded, and function words that carry no topical signal are not
indexed at all. The stop lists are the short Snowball-style ones of the
``stopwords`` package (175 English words): longer lists (1,333 English words
in ``stop-words``) drop content words such as "effect", "high" or "system"
that claims and questions are made of; only their one- and two-letter words
are added, to fill gaps such as Spanish "de". Exact phrases are a separate
concern: the analysed terms can find candidates, but only ``contains_phrase``
on the original text can confirm that the words appear as written and in order.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from contextlib import suppress
from dataclasses import dataclass
from functools import lru_cache

import Stemmer
import stop_words
import stopwords

# Bump when analysis changes what a text's terms are: stored keyword indexes are
# then rebuilt from their chunks (see ``LexicalIndex.reanalyse_if_changed``).
ANALYSIS_VERSION = "2"

# ISO 639-1 codes that are not keys of stopwords.LANGUAGE_MAPPING but name a
# language it (or PyStemmer) knows under another code.
_EXTRA_CODES = {"no": "norwegian", "nn": "norwegian", "ga": "irish", "eu": "basque",
                "hy": "armenian", "sr": "serbian", "ta": "tamil", "ne": "nepali",
                "lt": "lithuanian", "et": "estonian", "yi": "yiddish", "eo": "esperanto"}

# Quote characters that delimit an exact phrase. They are paired in order of
# appearance rather than by direction, because users mix them freely and
# some conventions run them "backwards" (German »…« and „…“).
QUOTES = frozenset('"“”„«»＂')


def _language_name(language: str | None) -> str | None:
    """Map "fr", "FR", "fr-CA" or "fr_FR" to the full name both libraries use."""
    if not language:
        return None
    code = re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0]
    return stopwords.LANGUAGE_MAPPING.get(code) or _EXTRA_CODES.get(code)


@lru_cache(maxsize=1)
def _token_pattern() -> re.Pattern[str]:
    """A word is a run of letters/digits plus the combining marks inside it.

    Python's ``\\w`` excludes marks (categories Mn/Mc/Me), which would cut
    Devanagari or Thai words at every vowel sign; adding the Basic
    Multilingual Plane's marks keeps those words whole. Built lazily, once.
    """
    marks = "".join(
        re.escape(chr(c)) for c in range(0x10000) if unicodedata.category(chr(c)).startswith("M")
    )
    return re.compile(rf"(?:[^\W_]|[{marks}])+")


@lru_cache(maxsize=64)
def _stop_set(name: str | None) -> frozenset[str]:
    """The language's stop words, casefolded, plus their accent-folded forms.

    Folded forms are included so a query typed without accents ("etre") drops
    the same function words as the accented text it is searched against.
    """
    if name is None:
        return frozenset()
    try:
        words = set(stopwords.get_stopwords(name))
    except stopwords.LanguageNotAvailable:
        words = set()
    with suppress(stop_words.StopWordError):  # short words fill gaps (Spanish "de")
        words |= {w for w in stop_words.get_stop_words(name) if len(w) <= 2}
    folded = {w.casefold() for w in words}
    folded |= {token for w in folded for token in tokenize(w)}  # "aren't" -> "aren", "t"
    return frozenset(folded | {fold_accents(w) for w in folded})


@lru_cache(maxsize=64)
def _display_stop_set(name: str | None) -> frozenset[str]:
    """The index's stop words plus the whole ``stop-words`` list of the language."""
    words: set[str] = set()
    if name is not None:
        with suppress(stop_words.StopWordError):
            words = {w.casefold() for w in stop_words.get_stop_words(name)}
    return _stop_set(name) | words | {fold_accents(w) for w in words}


_STEMMER_NAMES = frozenset(Stemmer.algorithms())


def fold_accents(word: str) -> str:
    """Strip diacritics: decompose (NFKD), drop combining marks, recompose."""
    decomposed = unicodedata.normalize("NFKD", word)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", bare)


def tokenize(text: str) -> list[str]:
    """Casefolded words of ``text``; punctuation and whitespace separate them.

    NFKC first, so decomposed accents (common in PDF text), ligatures and
    full-width forms become the ordinary letters the stemmer expects.
    """
    normal = unicodedata.normalize("NFKC", text).casefold()
    return _token_pattern().findall(normal)


def word_spans(text: str) -> list[tuple[int, int]]:
    """Where each word of ``text`` (as written) starts and ends, for highlighting."""
    return [m.span() for m in _token_pattern().finditer(text)]


class Analyzer:
    """Turns text into index/query terms for one language.

    Pipeline: tokenize -> drop stop words -> Snowball stem -> fold accents.
    Stemming runs before folding because Snowball rules are written for the
    accented alphabet. A language without a stop list or stemmer simply skips
    that step; ``None`` or an unknown code only lowercases and folds.
    PyStemmer objects are not thread-safe, so each thread gets its own.
    """

    def __init__(self) -> None:
        self._local = threading.local()
        # Highlighting analyses snippets word by word: the same words, over and over.
        self.word_terms = lru_cache(maxsize=1 << 16)(self.terms)

    def terms(self, text: str, language: str | None) -> list[str]:
        """Analysed terms of ``text`` in order, repeats kept (BM25 counts them)."""
        name = _language_name(language)
        tokens = tokenize(text)
        stops = _stop_set(name)
        kept = [t for t in tokens if t not in stops]
        # A query made only of stop words ("the who") must still search for
        # something; keeping every token is the only non-empty answer.
        if not kept:
            kept = tokens
        return [fold_accents(t) for t in self._stem(kept, name)]

    def content_words(self, text: str, language: str | None) -> list[str]:
        """The words of ``text`` as written, stop words dropped: what a reader calls terms.

        Shown to people (labels, shared terms), so the longer ``stop-words``
        lists apply here: "also", "plus" or "haben" tell a reader nothing,
        though a search for them should still find them.
        """
        stops = _display_stop_set(_language_name(language))
        words = (text[a:b] for a, b in word_spans(text))
        return [w for w in words if unicodedata.normalize("NFKC", w).casefold() not in stops]

    def _stem(self, tokens: list[str], name: str | None) -> list[str]:
        stemmer = self._stemmer(name)
        return stemmer.stemWords(tokens) if stemmer is not None else tokens

    def _stemmer(self, name: str | None) -> Stemmer.Stemmer | None:
        if name is None or name not in _STEMMER_NAMES:
            return None
        cache: dict[str, Stemmer.Stemmer] | None = getattr(self._local, "stemmers", None)
        if cache is None:
            cache = self._local.stemmers = {}
        if name not in cache:
            cache[name] = Stemmer.Stemmer(name)
        return cache[name]


@dataclass(frozen=True)
class ParsedQuery:
    """A query split into its free text and its exact phrases.

    ``text`` keeps every word (phrases included) without the quote characters:
    it is what the dense side embeds and what the keyword side ranks by.
    ``phrases`` are the quoted spans that a hit must contain verbatim.
    """

    text: str
    phrases: tuple[str, ...]


def _collapse(text: str) -> str:
    return " ".join(text.split())


def parse_query(query: str) -> ParsedQuery:
    """Extract "quoted" phrases; an unpaired last quote is ordinary text."""
    positions = [i for i, ch in enumerate(query) if ch in QUOTES]
    phrases: list[str] = []
    for start, end in zip(positions[::2], positions[1::2], strict=False):
        phrase = _collapse(query[start + 1 : end])
        if phrase and phrase not in phrases:
            phrases.append(phrase)
    # Quotes become spaces, not nothing, so `a"b"` does not glue into "ab".
    text = _collapse("".join(" " if ch in QUOTES else ch for ch in query))
    return ParsedQuery(text=text, phrases=tuple(phrases))


@lru_cache(maxsize=256)
def _phrase_pattern(phrase: str) -> re.Pattern[str] | None:
    words = unicodedata.normalize("NFC", phrase).casefold().split()
    if not words:
        return None
    body = r"\s+".join(re.escape(w) for w in words)
    # Only assert a word boundary where the phrase itself starts/ends with a
    # word character; "(EU)" must still match after a space or a bracket.
    before = r"(?<!\w)" if re.match(r"\w", words[0]) else ""
    after = r"(?!\w)" if re.search(r"\w$", words[-1]) else ""
    return re.compile(before + body + after)


def contains_phrase(text: str, phrase: str) -> bool:
    """True if ``phrase`` occurs in ``text`` as whole words, in order.

    Case and runs of whitespace are ignored; accents are not ("resume" does
    not match "résumé"): a quoted phrase asks for the words as written. Both
    sides are NFC-normalised so composed and decomposed accents compare equal.
    An empty phrase is contained in every text.
    """
    pattern = _phrase_pattern(phrase)
    if pattern is None:
        return True
    haystack = unicodedata.normalize("NFC", text).casefold()
    return pattern.search(haystack) is not None


__all__ = ["QUOTES", "Analyzer", "ParsedQuery", "contains_phrase", "fold_accents",
           "parse_query", "tokenize", "word_spans"]
