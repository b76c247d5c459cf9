"""Word vectors for "why it matched": the content words of stored chunks, embedded at publish.

Pairing two passages' words by meaning (``search.term_alignment``) needs a vector per word.
Embedded when a bridge is asked for, they made a document's first bridges wait on the model
for a few hundred words, often while other searches held the cores; a corpus repeats its
vocabulary, so a publish embeds only the words no earlier chunk brought and stores them
here, and a bridge reads them (docs/bridges.md has the timings). Vectors are kept as
float16: a word's cosine to another needs no more, and the table is half the size.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Iterator

import numpy as np

from search.embedding import Encoder
from search.lexical import Analyzer
from search.lexical.analysis import fold_accents
from search.sql import batches, get_meta, placeholders, set_meta

MAX_WORDS = 48  # per passage: enough for a 200-token chunk's content words
MIN_MEANING_CHARS = 4  # shorter words pair by spelling only
_WORD_BATCH = 256  # words are a few tokens: large batches pad little and run faster
log = logging.getLogger(__name__)

_BACKFILLED = "word_vectors_model"  # the model every stored chunk's words were embedded by


def word_key(word: str) -> str:
    """What two spellings of one word share: case and accents folded."""
    return fold_accents(word.casefold())


def is_number(word: str) -> bool:
    return any(ch.isdigit() for ch in word)


def passage_words(analyzer: Analyzer, text: str, language: str | None) -> dict[str, str]:
    """Folded key -> the word as first written; short words only when numbers."""
    words: dict[str, str] = {}
    for word in analyzer.content_words(text, language):
        if len(word) >= 3 or is_number(word):
            words.setdefault(word_key(word), word)
        if len(words) == MAX_WORDS:
            break
    return words


def meaning_keys(words: dict[str, str], matched: set[str] = frozenset()) -> list[str]:
    """Keys of the words left to pair by meaning: not matched by spelling already, long
    enough to mean something, not numbers."""
    return [k for k, w in words.items()
            if k not in matched and len(w) >= MIN_MEANING_CHARS and not is_number(w)]


def _stored(db: sqlite3.Connection, model_id: str, keys: Iterable[str],
            columns: str) -> Iterator[sqlite3.Row]:
    """``columns`` of the stored rows of these word keys."""
    for batch in batches(sorted(set(keys))):
        yield from db.execute(f"SELECT {columns} FROM word_vectors WHERE model_id = ? AND word"
                              f" IN ({placeholders(batch)})", [model_id, *batch])


def stored_word_vectors(db: sqlite3.Connection, model_id: str,
                        keys: Iterable[str]) -> dict[str, np.ndarray]:
    """The stored vectors (float32) of these word keys, for those that have one."""
    return {r[0]: np.frombuffer(r[1], dtype=np.float16).astype(np.float32)
            for r in _stored(db, model_id, keys, "word, vector")}


class WordVectorWriter:
    """Embeds the new words of the chunks a publish stores; the writer saves them in its
    transaction, so a failed publish leaves none. A stored word stays when its chunks go:
    words are shared across chunks, and the vocabulary grows far slower than the text."""

    def __init__(self, encoder: Encoder, analyzer: Analyzer, enabled: bool = True) -> None:
        self.encoder = encoder
        self.analyzer = analyzer
        self.enabled = enabled  # the ``store_word_vectors`` setting

    def behind(self, db: sqlite3.Connection) -> bool:
        """Whether stored chunks still lack their words' vectors (a data directory written
        before words were kept, or by another model)."""
        return self.enabled and get_meta(db, _BACKFILLED) != self.encoder.model_id

    def new_words(self, db: sqlite3.Connection,
                  texts: Iterable[tuple[str, str | None]]) -> tuple[list[str], np.ndarray]:
        """The keys of the words of (text, language) pairs that have no stored vector yet
        (every stored chunk's too, the first time a model's words are kept), embedded."""
        model_id = self.encoder.model_id
        if not self.enabled:
            return [], np.zeros((0, self.encoder.dimension), dtype=np.float32)
        if self.behind(db):
            stored = db.execute("SELECT text, language FROM chunks").fetchall()
            texts = [*texts, *((r[0], r[1]) for r in stored)]
        keys: dict[str, None] = {}
        for text, language in texts:
            keys.update(dict.fromkeys(meaning_keys(passage_words(self.analyzer, text,
                                                                 language))))
        stored_keys = {r[0] for r in _stored(db, model_id, keys, "word")}
        missing = [k for k in keys if k not in stored_keys]
        if not missing:
            return [], np.zeros((0, self.encoder.dimension), dtype=np.float32)
        log.info("embedding %d new words for why passages match", len(missing))
        return missing, self.encoder.encode_queries(missing, _WORD_BATCH)

    def save(self, db: sqlite3.Connection, keys: list[str], vectors: np.ndarray) -> None:
        if not self.enabled:
            return
        db.executemany("INSERT OR IGNORE INTO word_vectors(model_id, word, vector) VALUES"
                       " (?, ?, ?)", [(self.encoder.model_id, k, v.astype(np.float16).tobytes())
                                      for k, v in zip(keys, vectors, strict=True)])
        set_meta(db, _BACKFILLED, self.encoder.model_id)
