"""From a query to ranked hits: dense, keyword (BM25) or both fused, then re-ranked.

The steps, each a small method:

1. read the query: its free text, its "quoted phrases", its language and, unless the
   search is keyword-only, its vector (embedded once, however deep it is then ranked);
2. the candidate lists, both under the same filters (applied before ranking,
   so a filtered query still fills k) and the same phrases (a hit must contain
   each one as written): the dense list from the published vector generation,
   the keyword list from the FTS5 table;
3. fuse them (``search.fusion``) in hybrid mode;
4. re-rank the top with the cross-encoder when one is configured;
5. turn the chunk ids that are shown into hits with highlighted snippets.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from search.fusion import FusionWeights, fuse
from search.language import LanguageDetector
from search.lexical import parse_query
from search.path_names import AS_STORED
from search.records import Chunk, Document, DocumentSummary, Filters, Hit, SearchMode, valid_utf8
from search.reranker import Reranker, load_reranker
from search.settings import Settings
from search.snippets import Highlighter
from search.store import Store, filter_sql

if TYPE_CHECKING:
    from search.embedding import Encoder
    from search.knowledge_base import Generation


@dataclass(frozen=True)
class Query:
    """A query as each side reads it."""

    raw: str  # what the keyword side parses (phrases in quotes)
    text: str  # what the dense side embeds (quotes removed)
    phrases: tuple[str, ...]
    language: str | None
    vector: np.ndarray | None  # ``text`` embedded (not yet centred); None for keyword-only

    def lexical_languages(self, configured: Sequence[str]) -> list[str | None]:
        """The detected language, or every configured one when none was detected."""
        return [self.language] if self.language else list(configured)


class Retriever:
    """Answers queries over a store and whatever generation ``generation()`` publishes."""

    def __init__(self, settings: Settings, store: Store, generation: Callable[[], Generation],
                 encoder: Encoder) -> None:
        self.settings = settings
        self.store = store
        self.generation = generation
        self.encoder = encoder
        self.detector = LanguageDetector(settings.languages)
        self.highlighter = Highlighter(store.lexical.analyzer, settings.snippet_chars)
        self.weights = FusionWeights(settings.fusion_k, settings.dense_weight,
                                     settings.lexical_weight)
        self.reranker: Reranker | None = (load_reranker(settings.reranker_path)
                                          if settings.reranker_path else None)

    # --- step 1 -------------------------------------------------------------------
    def read(self, query: str, mode: SearchMode = SearchMode.hybrid) -> Query:
        """The query parsed, its language detected and, unless ``mode`` is keyword-only,
        embedded: once, however many times it is then ranked."""
        query = valid_utf8(query)
        parsed = parse_query(query)
        text = parsed.text or query
        vector = self.encoder.encode_query(text) if mode != SearchMode.lexical else None
        return Query(query, text, parsed.phrases, self.detector.detect(parsed.text), vector)

    # --- steps 2-3 ----------------------------------------------------------------
    def ranked(self, query: Query, filters: Filters | None, depth: int,
               mode: SearchMode) -> list[tuple[int, float]]:
        """Chunk ids and scores, best first, at most ``depth`` of them."""
        generation = self.generation()
        where, params = filter_sql(filters)
        languages = query.lexical_languages(self.settings.languages)
        list_depth = depth if mode != SearchMode.hybrid else max(depth,
                                                                 self.settings.fusion_depth)
        lexical: list[tuple[int, float]] = []
        allowed: np.ndarray | None = None
        narrowed = filters is not None and bool(filters.office)  # BM25 over those offices
        with self.store.connect() as db:  # one snapshot for the filter, phrases and BM25
            if mode != SearchMode.dense:
                lexical = self.store.lexical.search(db, query.raw, languages, list_depth, where,
                                                    params, narrowed)
            if mode != SearchMode.lexical:
                allowed = self._allowed(db, query, languages, filters, where, params)
        if mode == SearchMode.lexical:
            return lexical[:depth]
        dense = self._dense(query, generation, list_depth, allowed)
        if mode == SearchMode.dense:
            return dense[:depth]
        with self.store.connect() as db:
            chunk_languages = self.store.chunk_languages(
                db, [i for i, _ in dense] + [i for i, _ in lexical])
        return fuse([i for i, _ in dense], [i for i, _ in lexical], chunk_languages,
                    query.language, self.weights)[:depth]

    def _allowed(self, db: sqlite3.Connection, query: Query, languages: list[str | None],
                 filters: Filters | None, where: str, params: list) -> np.ndarray | None:
        """The chunks the dense side may return: those passing filters and phrases."""
        if query.phrases:
            phrases = " ".join(f'"{p}"' for p in query.phrases)
            found = self.store.lexical.search(db, phrases, languages,
                                              self.settings.max_phrase_matches, where, params)
            return np.array([i for i, _ in found], dtype=np.int64)
        if filters is not None and not filters.is_empty():
            return np.array(self.store.filtered_chunk_ids(db, where, params), dtype=np.int64)
        return None

    def _dense(self, query: Query, generation: Generation, depth: int,
               allowed: np.ndarray | None) -> list[tuple[int, float]]:
        if allowed is not None and len(allowed) == 0:
            return []
        if query.vector is None:
            raise ValueError("a dense ranking needs a query read for it (Retriever.read)")
        vector = generation.offsets.center(query.vector, [query.language])
        scores, ids = generation.index.search(vector, depth, allowed)
        return [(i, s) for i, s in zip(ids[0].tolist(), scores[0].tolist(), strict=True)
                if i >= 0]

    # --- steps 4-5 ----------------------------------------------------------------
    def rank(self, query: Query, filters: Filters | None, depth: int,
             mode: SearchMode) -> list[tuple[int, float]]:
        """The ranking, its top re-ordered by the cross-encoder when one is configured."""
        ranked = self.ranked(query, filters, depth, mode)
        if self.reranker is None or not ranked:
            return ranked
        top = ranked[: self.settings.rerank_depth]
        rows = self.store.chunks_by_id([i for i, _ in top])
        top = [(i, s) for i, s in top if i in rows]
        scores = self.reranker.scores(query.text, [rows[i][0].text for i, _ in top])
        order = sorted(range(len(top)), key=lambda j: (-scores[j], j))
        return [(top[j][0], float(scores[j])) for j in order] + ranked[len(top):]

    def hits(self, query: Query, ranked: list[tuple[int, float]]) -> list[Hit]:
        """Hits for ranked chunk ids, in order, with their snippets highlighted."""
        rows = self.store.chunks_by_id([i for i, _ in ranked])
        ranked = [(i, s) for i, s in ranked if i in rows]  # deleted since the index was read
        terms: dict[str | None, set[str]] = {}  # the query's terms in each chunk's language
        for i, _ in ranked:
            language = rows[i][0].language
            if language not in terms:
                terms[language] = self.highlighter.query_terms(query.text,
                                                               {query.language, language})
        return [self._hit(*rows[i], score, terms[rows[i][0].language]) for i, score in ranked]

    def _hit(self, chunk: Chunk, document: Document, score: float, terms: set[str]) -> Hit:
        snippet = self.highlighter.snippet(chunk.text, terms, chunk.language)
        return Hit(
            chunk_id=chunk.id,
            score=score,
            snippet=snippet.text,
            highlights=snippet.highlights,
            text=chunk.text,
            language=chunk.language,
            provenance=chunk.provenance,
            document=DocumentSummary.model_validate(document.model_dump(context=AS_STORED)),
        )
