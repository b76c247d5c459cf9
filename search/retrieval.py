"""From a read query to ranked hits: dense, keyword (BM25) or both fused, then re-ranked.

The steps, each a small method (the query is read first: ``search.queries``):

1. the candidate lists, both under the same filters (applied before ranking,
   so a filtered query still fills k) and the same phrases (a hit must contain
   each one as written): the dense list from the published vector generation,
   the keyword list from the generation's keyword index (or, narrowed to offices, from an
   index of theirs alone: ``search.lexical.keyword_search``);
2. fuse them (``search.fusion``) in hybrid mode, a decisive keyword match first;
3. re-rank the top with the cross-encoder when one is configured;
4. turn the chunk ids that are shown into hits with highlighted snippets, near-duplicates
   gathered under the first of them ("also in").
"""

from __future__ import annotations

import sqlite3

import numpy as np

from search.chunks import chunk_languages, chunks_by_id
from search.database import Database
from search.documents import filter_sql
from search.filtered_chunks import FilteredChunks
from search.fusion import FusionWeights, fuse
from search.generations import Generation, LiveGeneration
from search.lexical import KeywordSearch, Scope
from search.near_duplicates import chunk_near_duplicates, gather_near_duplicates
from search.path_names import AS_STORED
from search.queries import Query
from search.records import Chunk, Document, DocumentSummary, Filters, Hit, SearchMode
from search.reranker import Reranker, load_reranker
from search.settings import Settings
from search.snippets import Highlighter


def _office_scope(filters: Filters | None) -> Scope | None:
    """The offices a filter narrows a search to, whose statistics alone score its keywords."""
    if filters is None or not filters.office:
        return None
    where, params = filter_sql(Filters(office=filters.office))
    return Scope(where, tuple(params))


def _beyond_offices(filters: Filters | None) -> bool:
    """Whether a filter narrows by more than offices (a view of the offices is not enough)."""
    return filters is not None and not filters.model_copy(update={"office": None}).is_empty()


def _unique_documents(documents: list[DocumentSummary],
                      home: DocumentSummary) -> list[DocumentSummary]:
    """Each document once, never the hit's own."""
    unique = {d.id: d for d in documents if d.id != home.id}
    return list(unique.values())


class Retriever:
    """Ranks chunks for read queries over the database and the live generation."""

    def __init__(self, settings: Settings, database: Database, keywords: KeywordSearch,
                 live: LiveGeneration) -> None:
        self.settings = settings
        self.database = database
        self.keywords = keywords
        self.live = live
        self.filtered = FilteredChunks(settings.filters_kept)
        self.highlighter = Highlighter(keywords.analyzer, settings.snippet_chars)
        self.weights = FusionWeights(settings.fusion_k, settings.dense_weight,
                                     settings.lexical_weight, settings.exact_match_gap,
                                     settings.exact_match_chunks)
        self.reranker: Reranker | None = (load_reranker(settings.reranker_path)
                                          if settings.reranker_path else None)

    def search(self, query: Query, filters: Filters | None, k: int, offset: int,
               mode: SearchMode) -> list[Hit]:
        """The best ``k`` hits from ``offset`` on, each with its near-duplicates' documents."""
        ranked = self.rank(query, filters, offset + 2 * k, mode)
        hits = {hit.chunk_id: hit for hit in self.hits(query, ranked[offset:])}
        with self.database.connect() as db:
            near = chunk_near_duplicates(db, list(hits))
        shown = list(gather_near_duplicates(list(hits), near).items())[:k]
        for chunk_id, gathered in shown:
            hits[chunk_id].also_in = _unique_documents([hits[i].document for i in gathered],
                                                       hits[chunk_id].document)
        return [hits[chunk_id] for chunk_id, _ in shown]

    def rank(self, query: Query, filters: Filters | None, depth: int,
             mode: SearchMode) -> list[tuple[int, float]]:
        """Chunk ids and scores, best first, at most ``depth`` of them: the candidates,
        their top re-ordered by the cross-encoder when one is configured."""
        return self._rerank(query, self._candidates(query, filters, depth, mode))

    # --- steps 1-2 ----------------------------------------------------------------
    def _candidates(self, query: Query, filters: Filters | None, depth: int,
                    mode: SearchMode) -> list[tuple[int, float]]:
        """The dense, keyword or fused ranking: chunk ids and scores, best first."""
        generation = self.live.current()
        languages = query.lexical_languages(self.settings.languages)
        list_depth = depth if mode != SearchMode.hybrid else max(depth,
                                                                 self.settings.fusion_depth)
        lexical: list[tuple[int, float]] = []
        allowed: np.ndarray | None = None
        with self.database.connect() as db:  # one snapshot for the filter, phrases and BM25
            beyond_offices = _beyond_offices(filters)
            filtered = (self.filtered.ids(db, filters)
                        if mode != SearchMode.lexical or beyond_offices else None)
            beyond = filtered if beyond_offices else None
            if mode != SearchMode.dense:
                lexical = self.keywords.search(db, generation.keywords, generation.number,
                                               query.raw, languages, list_depth,
                                               _office_scope(filters), beyond)
            if mode != SearchMode.lexical:
                allowed = self._allowed(db, generation, query, languages, filtered)
        if mode == SearchMode.lexical:
            return lexical[:depth]
        dense = self._dense(query, generation, list_depth, allowed)
        if mode == SearchMode.dense:
            return dense[:depth]
        with self.database.connect() as db:
            languages_of = chunk_languages(db, [i for i, _ in dense] + [i for i, _ in lexical])
        return fuse(dense, lexical, languages_of, query.language, query.names_something,
                    self.weights)[:depth]

    def _allowed(self, db: sqlite3.Connection, generation: Generation, query: Query,
                 languages: list[str | None], filtered: np.ndarray | None
                 ) -> np.ndarray | None:
        """The chunks the dense side may return: those passing filters and phrases."""
        if query.phrases:
            phrases = " ".join(f'"{p}"' for p in query.phrases)
            found = self.keywords.search(db, generation.keywords, generation.number, phrases,
                                         languages, self.settings.max_phrase_matches,
                                         allowed=filtered)
            return np.array([i for i, _ in found], dtype=np.int64)
        return filtered

    def _dense(self, query: Query, generation: Generation, depth: int,
               allowed: np.ndarray | None) -> list[tuple[int, float]]:
        if allowed is not None and len(allowed) == 0:
            return []
        if query.vector is None:
            raise ValueError("a dense ranking needs a query read for it (QueryReader.read)")
        vector = generation.offsets.center(query.vector, [query.language])
        scores, ids = generation.index.search(vector, depth, allowed)
        return [(i, s) for i, s in zip(ids[0].tolist(), scores[0].tolist(), strict=True)
                if i >= 0]

    # --- steps 3-4 ----------------------------------------------------------------
    def _rerank(self, query: Query, ranked: list[tuple[int, float]]) -> list[tuple[int, float]]:
        """The ranking, its top re-ordered by the cross-encoder when one is configured."""
        if self.reranker is None or not ranked:
            return ranked
        top = ranked[: self.settings.rerank_depth]
        with self.database.connect() as db:
            rows = chunks_by_id(db, [i for i, _ in top])
        top = [(i, s) for i, s in top if i in rows]
        scores = self.reranker.scores(query.text, [rows[i][0].text for i, _ in top])
        order = sorted(range(len(top)), key=lambda j: (-scores[j], j))
        return [(top[j][0], float(scores[j])) for j in order] + ranked[len(top):]

    def hits(self, query: Query, ranked: list[tuple[int, float]]) -> list[Hit]:
        """Hits for ranked chunk ids, in order, with their snippets highlighted."""
        with self.database.connect() as db:
            rows = chunks_by_id(db, [i for i, _ in ranked])
        ranked = [(i, s) for i, s in ranked if i in rows]  # deleted since the index was read
        terms: dict[str | None, set[str]] = {}  # the query's terms in each chunk's language
        for i, _ in ranked:
            language = rows[i][0].language
            if language not in terms:
                terms[language] = self.highlighter.query_terms(query.text,
                                                               {query.language, language})
        return [self._build_hit(*rows[i], score, terms[rows[i][0].language]) for i, score in ranked]

    def _build_hit(self, chunk: Chunk, document: Document, score: float, terms: set[str]) -> Hit:
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
