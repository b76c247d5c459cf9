"""Bridges: from one office's finding to the closest findings of the other offices.

A finding is a chunk, so a 40-slide deck bridges slide by slide. The steps:

1. the source: a document's chunks, one chunk, or free text (embedded as a
   query: a finding typed in a sentence is short beside the chunks it is
   compared with, which is what the encoder's query prompt is for), as
   language-centred vectors, with its office;
2. candidates: each source chunk's nearest chunks among the target offices
   only (a vector search restricted to their ids; never the source office);
3. margin scoring (Artetxe & Schwenk, 2019, the bitext-mining score): a pair's
   cosine over the mean cosine of each side's nearest neighbours in the other
   offices, so a generic chunk close to everything (a hub) ranks below one
   close to this source only (measured against plain cosine in docs/bridges.md);
4. one result per target document, its best aligned passages first,
   near-duplicates gathered under the first of them ("also in");
5. why: the aligned passages' shared terms (``search.term_alignment``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from search.chunks import chunks_by_id, document_chunks, is_substantial, office_chunk_ids
from search.database import Database
from search.documents import document_by_id
from search.embedding import Encoder
from search.embedding_cache import chunk_vectors
from search.generations import Generation, LiveGeneration
from search.lexical import Analyzer
from search.near_duplicates import document_near_duplicates, gather_near_duplicates
from search.path_names import AS_STORED
from search.queries import QueryReader
from search.records import (
    AlignedPassages,
    Bridge,
    BridgeResult,
    BridgeSource,
    Chunk,
    Document,
    DocumentSummary,
    Passage,
    SearchMode,
)
from search.settings import Settings
from search.term_alignment import TermAligner

# Candidates whose margin is computed: the best pairs by cosine, at least this many.
_MIN_SCORED = 100
_AHEAD_BATCH = 256  # chunks whose margins are computed ahead in one go


@dataclass(frozen=True)
class BridgeQuery:
    """Where a bridge starts (exactly one of document, chunk, text) and where it may go."""

    document_id: int | None = None
    chunk_id: int | None = None
    text: str | None = None
    office: str | None = None  # the source office; a document's or chunk's own wins
    target_offices: tuple[str, ...] = ()  # empty: every other office
    k: int = 10
    passages: int = 3
    # the offices the caller may see (casefolded); None: every office. A source
    # outside them is "not found", and no bridge reaches past them.
    visible_offices: frozenset[str] | None = None


@dataclass
class _Source:
    record: BridgeSource
    passages: list[Passage]
    vectors: np.ndarray  # centred, one per passage


@dataclass(frozen=True)
class _Pair:
    source: int  # index of the source passage
    target: int  # chunk id
    similarity: float
    score: float


def _summary(document: Document) -> DocumentSummary:
    return DocumentSummary.model_validate(document.model_dump(context=AS_STORED))


def _passage(chunk: Chunk) -> Passage:
    return Passage(chunk_id=chunk.id, text=chunk.text, language=chunk.language,
                   provenance=chunk.provenance)


@dataclass
class _OfficeCache:
    """Per generation: each office's chunk ids, and chunks' neighbourhood similarity."""

    generation: int
    offices: dict[str, np.ndarray]
    # (the offices the caller sees, None for all; chunk id) -> neighbourhood similarity
    neighbourhood: dict[tuple[frozenset[str] | None, int], float] = field(default_factory=dict)

    @cached_property
    def office_of(self) -> dict[int, str]:
        """Chunk id -> its office."""
        return {int(i): office for office, ids in self.offices.items() for i in ids}


class Bridger:
    """Answers bridge queries over the database and the live generation."""

    def __init__(self, settings: Settings, database: Database, live: LiveGeneration,
                 reader: QueryReader, encoder: Encoder, analyzer: Analyzer) -> None:
        self.settings = settings
        self.database = database
        self.live = live
        self.reader = reader
        self.encoder = encoder
        self.aligner = TermAligner(database, encoder, analyzer, settings.term_similarity)
        self._cache: _OfficeCache | None = None
        self._lock = threading.Lock()
        self._ahead = False  # compute margins ahead for every generation (``prepare``)

    def prepare(self) -> None:
        """Compute margins ahead, for the live generation now and for each later one in the
        background as it is first used: a server calls it as it starts, so that a document's
        first bridges, which would otherwise search the neighbourhood of a hundred candidate
        passages, find them ready. Only up to ``bridge_margins_ahead`` chunks (the work is
        quadratic) and only over every office: a key limited to offices computes its own."""
        generation = self.live.current()
        self._margins_ahead(generation, self._office_cache(generation))
        self._ahead = True

    def _margins_ahead(self, generation: Generation, cache: _OfficeCache) -> None:
        ids = sorted(cache.office_of)
        if len(ids) > self.settings.bridge_margins_ahead:
            return
        for start in range(0, len(ids), _AHEAD_BATCH):
            self._neighbourhood(generation, cache, ids[start:start + _AHEAD_BATCH], None)

    def bridge(self, query: BridgeQuery) -> BridgeResult:
        generation = self.live.current()
        cache = self._office_cache(generation)
        source = self._source(query, generation)
        targets = self._targets(cache, source.record.office, query)
        result = BridgeResult(source=source.record, target_offices=targets, bridges=[])
        allowed = np.concatenate([cache.offices[t] for t in targets] or [np.zeros(0, np.int64)])
        if len(allowed) == 0 or len(source.vectors) == 0:
            return result
        pairs = self._pairs(source, generation, cache, allowed, query)
        result.bridges = self._one_bridge_per_document(source, pairs, query)
        return result

    # --- step 1 -------------------------------------------------------------------
    def _source(self, query: BridgeQuery, generation: Generation) -> _Source:
        if query.text is not None:
            read = self.reader.read(query.text, SearchMode.dense)
            vectors = generation.offsets.center(read.vector, [read.language])
            return _Source(BridgeSource(kind="text", office=query.office, language=read.language),
                           [Passage(chunk_id=None, text=read.text, language=read.language)],
                           vectors)
        if query.document_id is not None:
            with self.database.connect() as db:
                found = document_by_id(db, query.document_id)
                chunks = document_chunks(db, query.document_id)
            if found is None:
                raise LookupError(f"no document with id {query.document_id}")
            document = found
            kind, chunk_id = "document", None
        else:
            with self.database.connect() as db:
                owner = chunks_by_id(db, [query.chunk_id or 0]).get(query.chunk_id or 0)
            if owner is None:
                raise LookupError(f"no chunk with id {query.chunk_id}")
            chunks, document = [owner[0]], owner[1]
            kind, chunk_id = "chunk", owner[0].id
        if query.visible_offices is not None and \
                (document.office or "").casefold() not in query.visible_offices:
            raise LookupError(f"no {kind} with id {query.document_id or query.chunk_id}")
        chunks = self._spread([c for c in chunks if self._substantial(c, document)] or chunks)
        with self.database.connect() as db:
            stored = chunk_vectors(db, [c.id for c in chunks], self.encoder.model_id,
                                   self.encoder.dimension)
        by_id = {c.id: c for c in chunks}
        record = BridgeSource(kind=kind, office=document.office or query.office,
                              language=document.language, document=_summary(document),
                              chunk_id=chunk_id)
        return _Source(record, [_passage(by_id[int(i)]) for i in stored.ids],
                       generation.offsets.center(stored.vectors, stored.languages))

    def _substantial(self, chunk: Chunk, document: Document) -> bool:
        return is_substantial(chunk, document, self.settings.bridge_min_tokens)

    def _spread(self, chunks: list[Chunk]) -> list[Chunk]:
        """At most ``bridge_source_chunks`` of a long document, spread evenly over it."""
        limit = self.settings.bridge_source_chunks
        if len(chunks) <= limit:
            return chunks
        return [chunks[int(i)] for i in np.linspace(0, len(chunks) - 1, limit)]

    def _office_cache(self, generation: Generation) -> _OfficeCache:
        with self._lock:
            if self._cache is None or self._cache.generation != generation.number:
                with self.database.connect() as db:
                    self._cache = _OfficeCache(generation.number, office_chunk_ids(db))
                if self._ahead:  # a later generation: its margins in the background
                    threading.Thread(target=self._margins_ahead, args=(generation, self._cache),
                                     name="bridge-margins", daemon=True).start()
            return self._cache

    @staticmethod
    def _targets(cache: _OfficeCache, office: str | None, query: BridgeQuery) -> list[str]:
        """The offices a bridge may reach: those asked for (or all) that the caller may see,
        never the source's."""
        asked = {w.casefold() for w in query.target_offices}
        home = (office or "").casefold()
        return [o for o in cache.offices
                if o.casefold() != home and (not asked or o.casefold() in asked)
                and (query.visible_offices is None or o.casefold() in query.visible_offices)]

    # --- steps 2-3 ----------------------------------------------------------------
    def _pairs(self, source: _Source, generation: Generation, cache: _OfficeCache,
               allowed: np.ndarray, query: BridgeQuery) -> list[_Pair]:
        """Source-target chunk pairs, best margin first."""
        margin_k = self.settings.bridge_margin_k
        depth = max(self.settings.bridge_candidates, margin_k)
        # the source's own chunks are never among them: ``allowed`` holds other offices' only
        scores, ids = generation.index.search(source.vectors, depth, allowed)
        candidates = sorted(((float(s), i, int(t)) for i in range(len(ids))
                             for s, t in zip(scores[i], ids[i], strict=True) if t >= 0),
                            reverse=True)
        keep = max(_MIN_SCORED, query.k * query.passages * 4)
        scored: list[tuple[float, int, int]] = []
        targets: set[int] = set()
        for candidate in candidates:
            scored.append(candidate)
            targets.add(candidate[2])
            if len(targets) >= keep:
                break
        source_hood = np.where(scores >= -1, scores, np.nan)[:, :margin_k]
        source_mean = np.nan_to_num(np.nanmean(source_hood, axis=1), nan=1.0)
        target_mean = self._neighbourhood(generation, cache, sorted(targets),
                                          query.visible_offices)
        pairs = [_Pair(i, t, s, s / ((source_mean[i] + target_mean.get(t, s)) / 2))
                 for s, i, t in scored]
        return sorted(pairs, key=lambda p: (-p.score, p.target))

    def _neighbourhood(self, generation: Generation, cache: _OfficeCache, chunk_ids: list[int],
                       visible: frozenset[str] | None) -> dict[int, float]:
        """Mean cosine of each chunk's ``bridge_margin_k`` nearest chunks of the other offices
        the caller may see: a margin never moves with what a hidden office holds."""
        missing = [i for i in chunk_ids if (visible, i) not in cache.neighbourhood]
        if missing:
            with self.database.connect() as db:
                stored = chunk_vectors(db, missing, self.encoder.model_id,
                                       self.encoder.dimension)
            vectors = generation.offsets.center(stored.vectors, stored.languages)
            by_office: dict[str | None, list[int]] = {}
            for row, chunk_id in enumerate(stored.ids):
                by_office.setdefault(cache.office_of.get(int(chunk_id)), []).append(row)
            for office, rows in by_office.items():
                others = [ids for o, ids in cache.offices.items() if o != office
                          and (visible is None or o.casefold() in visible)]
                if not others:
                    continue
                scores, _ = generation.index.search(vectors[rows], self.settings.bridge_margin_k,
                                                    np.concatenate(others))
                cache.neighbourhood.update(
                    ((visible, int(stored.ids[r])),
                     float(s[s > -1].mean()) if (s > -1).any() else 1.0)
                    for r, s in zip(rows, scores, strict=True))
        return {i: cache.neighbourhood[(visible, i)] for i in chunk_ids
                if (visible, i) in cache.neighbourhood}

    # --- steps 4-5 ----------------------------------------------------------------
    def _one_bridge_per_document(self, source: _Source, pairs: list[_Pair],
                                 query: BridgeQuery) -> list[Bridge]:
        with self.database.connect() as db:
            rows = chunks_by_id(db, list(dict.fromkeys(p.target for p in pairs)))
        rows = {i: row for i, row in rows.items() if self._substantial(*row)}
        grouped: dict[int, list[_Pair]] = {}
        seen: set[int] = set()
        for pair in pairs:  # best first: each target chunk keeps its best source passage
            if pair.target in rows and pair.target not in seen:
                seen.add(pair.target)
                grouped.setdefault(rows[pair.target][1].id, []).append(pair)
        with self.database.connect() as db:
            near = document_near_duplicates(db, list(grouped))
        shown = list(gather_near_duplicates(list(grouped), near).items())[: query.k]
        return [Bridge(document=_summary(rows[grouped[doc_id][0].target][1]),
                       score=round(grouped[doc_id][0].score, 4),
                       passages=[self._aligned(source, pair, rows[pair.target][0], rank == 0)
                                 for rank, pair in enumerate(grouped[doc_id][: query.passages])],
                       also_in=[_summary(rows[grouped[t][0].target][1]) for t in gathered])
                for doc_id, gathered in shown]

    def _aligned(self, source: _Source, pair: _Pair, target: Chunk,
                 by_meaning: bool) -> AlignedPassages:
        """The two passages and their shared terms (by meaning for a bridge's best pair)."""
        passage = source.passages[pair.source]
        return AlignedPassages(
            source=passage, target=_passage(target), similarity=round(pair.similarity, 4),
            score=round(pair.score, 4),
            shared_terms=self.aligner.shared_terms(passage.text, passage.language, target.text,
                                                   target.language, by_meaning))
