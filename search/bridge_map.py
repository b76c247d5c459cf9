"""The bridge map: how strongly each pair of offices is connected, and on which themes.

1. themes: the chunk vectors (language-centred, so a theme gathers every
   language's chunks on it) are clustered with FAISS k-means (spherical); each
   theme is labelled per language by class-based TF-IDF over its chunks'
   content words (Grootendorst, 2022, BERTopic's c-TF-IDF): a word frequent in
   this theme and rare in the others tells most;
2. links: every chunk's nearest chunk in each other office (one exact FAISS
   index per office); a chunk with a counterpart at ``map_link_similarity`` or
   above is a bridge. A link's strength is the share of the two offices'
   chunks that are bridges between them, and its themes are those bridges'
   themes;
3. per office: the themes it covers (``map_theme_min_share`` of the theme's
   chunks, and at least two) along with another office, and those only it covers.

Greetings and headings (shorter than ``bridge_min_tokens``) are left out, as
in bridge queries. Beyond ``map_sample_chunks`` chunks an even sample by id is
used, so the map of a large index stays a matter of seconds.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import dataclass

import faiss
import numpy as np

from search.chunks import office_chunks
from search.database import Database
from search.embedding import Encoder
from search.embedding_cache import chunk_vectors
from search.generations import Generation, LiveGeneration
from search.lexical import Analyzer
from search.records import BridgeMap, OfficeLink, OfficeThemes, Theme, ThemeCount
from search.settings import Settings

_LABEL_TERMS = 6
_LINK_THEMES = 5
_MIN_THEME_CHUNKS = 2
_KMEANS_ITERATIONS = 25
_SEED = 1234


@dataclass(frozen=True)
class MapChunks:
    """The chunks a map is drawn from: ids, offices, documents, languages, texts, vectors."""

    ids: np.ndarray
    offices: list[str]
    documents: list[int]
    languages: list[str | None]
    texts: list[str]
    vectors: np.ndarray  # language-centred, unit length


def theme_count(n_chunks: int, configured: int | None) -> int:
    """The configured number of themes, else about one per 20 chunks (2 to 40)."""
    if configured:
        return max(1, min(configured, n_chunks))
    return max(1, min(40, n_chunks // 20, max(2, round(math.sqrt(n_chunks / 2)))))


TermCounts = dict[str, dict[int, Counter[str]]]


def _labels(theme: int, counts: TermCounts) -> dict[str, list[str]]:
    """Per language, the words most frequent in this theme and rare in the others.

    Languages with the most words in the theme come first.
    """
    labels: dict[str, list[str]] = {}
    for language, per_theme in counts.items():
        if theme not in per_theme:
            continue
        frequency = Counter[str]()
        for counter in per_theme.values():
            frequency.update(counter)
        average = sum(frequency.values()) / len(per_theme)
        weights = {term: n * math.log(1 + average / frequency[term])
                   for term, n in per_theme[theme].items() if n > 1 or len(per_theme) == 1}
        ranked = sorted(weights, key=lambda t: (-weights[t], t))[:_LABEL_TERMS]
        if ranked:
            labels[language] = ranked
    return dict(sorted(labels.items(),
                       key=lambda item: -sum(counts[item[0]][theme].values())))


class MapBuilder:
    """Draws a ``BridgeMap`` from the chunks of one generation."""

    def __init__(self, settings: Settings, analyzer: Analyzer) -> None:
        self.settings = settings
        self.analyzer = analyzer

    def build(self, generation: int, chunks: MapChunks) -> BridgeMap:
        threshold = self.settings.map_link_similarity
        empty = BridgeMap(generation=generation, link_similarity=threshold, themes=[],
                          offices=[], links=[])
        if len(chunks.ids) == 0:
            return empty
        assignment = self._cluster(chunks.vectors)
        counts = self._term_counts(chunks, assignment)
        themes = [self._theme(t, chunks, assignment, counts)
                  for t in range(int(assignment.max()) + 1)]
        return BridgeMap(generation=generation, link_similarity=threshold, themes=themes,
                         offices=self._offices(chunks, themes),
                         links=self._links(chunks, assignment, threshold))

    # --- themes -------------------------------------------------------------------
    def _cluster(self, vectors: np.ndarray) -> np.ndarray:
        k = theme_count(len(vectors), self.settings.map_themes)
        if k == 1:
            return np.zeros(len(vectors), dtype=np.int64)
        kmeans = faiss.Kmeans(vectors.shape[1], k, niter=_KMEANS_ITERATIONS, seed=_SEED,
                              spherical=True, min_points_per_centroid=1, verbose=False)
        kmeans.train(np.ascontiguousarray(vectors, dtype=np.float32))
        _, assignment = kmeans.index.search(np.ascontiguousarray(vectors, np.float32), 1)
        # renumber by size, largest first, so theme 0 is the broadest
        order = np.argsort(-np.bincount(assignment[:, 0], minlength=k), kind="stable")
        return np.argsort(order)[assignment[:, 0]]

    def _theme(self, theme: int, chunks: MapChunks, assignment: np.ndarray,
               counts: TermCounts) -> Theme:
        members = np.flatnonzero(assignment == theme)
        return Theme(id=theme, chunks=len(members), labels=_labels(theme, counts),
                     offices=dict(Counter(chunks.offices[i] for i in members).most_common()))

    def _term_counts(self, chunks: MapChunks, assignment: np.ndarray) -> TermCounts:
        """Language -> theme -> word counts (lower-cased words as written, 3+ letters)."""
        counts: TermCounts = {}
        for text, language, theme in zip(chunks.texts, chunks.languages, assignment,
                                         strict=True):
            words = [w.casefold() for w in self.analyzer.content_words(text, language)
                     if len(w) >= 3 and w.isalpha()]
            counts.setdefault(language or "?", {}).setdefault(int(theme), Counter()).update(words)
        return counts

    # --- offices and links -----------------------------------------------------------
    def _offices(self, chunks: MapChunks, themes: list[Theme]) -> list[OfficeThemes]:
        share = self.settings.map_theme_min_share
        covered = {t.id: {o for o, n in t.offices.items()
                          if n >= max(_MIN_THEME_CHUNKS, share * t.chunks)} for t in themes}
        result = []
        for office in sorted(set(chunks.offices)):
            mine = [t for t, offices in covered.items() if office in offices]
            result.append(OfficeThemes(
                office=office,
                documents=len({d for d, o in zip(chunks.documents, chunks.offices, strict=True)
                               if o == office}),
                chunks=chunks.offices.count(office),
                shared=[t for t in mine if len(covered[t]) > 1],
                only=[t for t in mine if covered[t] == {office}]))
        return result

    def _links(self, chunks: MapChunks, assignment: np.ndarray,
               threshold: float) -> list[OfficeLink]:
        names = sorted(set(chunks.offices))
        rows = {o: np.array([i for i, x in enumerate(chunks.offices) if x == o]) for o in names}
        indexes = {}
        for office in names:
            indexes[office] = faiss.IndexFlatIP(chunks.vectors.shape[1])
            indexes[office].add(np.ascontiguousarray(chunks.vectors[rows[office]], np.float32))
        links = []
        for a_pos, a in enumerate(names):
            for b in names[a_pos + 1:]:
                bridging = np.concatenate([
                    rows[a][self._close(chunks.vectors[rows[a]], indexes[b], threshold)],
                    rows[b][self._close(chunks.vectors[rows[b]], indexes[a], threshold)]])
                themes = Counter(int(assignment[i]) for i in bridging)
                links.append(OfficeLink(
                    offices=(a, b), bridges=len(bridging),
                    strength=round(len(bridging) / (len(rows[a]) + len(rows[b])), 4),
                    themes=[ThemeCount(theme=t, bridges=n)
                            for t, n in themes.most_common(_LINK_THEMES)]))
        return sorted(links, key=lambda link: -link.strength)

    @staticmethod
    def _close(vectors: np.ndarray, other: faiss.Index, threshold: float) -> np.ndarray:
        """Which of ``vectors`` have a neighbour in ``other`` at ``threshold`` or above."""
        scores, _ = other.search(np.ascontiguousarray(vectors, np.float32), 1)
        return scores[:, 0] >= threshold


class MapCache:
    """The map of the live generation over a set of offices, drawn once and then kept."""

    def __init__(self, settings: Settings, database: Database, live: LiveGeneration,
                 encoder: Encoder, analyzer: Analyzer) -> None:
        self.settings = settings
        self.database = database
        self.live = live
        self.encoder = encoder
        self.builder = MapBuilder(settings, analyzer)
        self._maps: dict[frozenset[str] | None, BridgeMap] = {}
        self._lock = threading.Lock()

    def get(self, offices: frozenset[str] | None = None) -> BridgeMap:
        """The map over ``offices`` (casefolded; None: all), drawn once per generation."""
        generation = self.live.current()
        with self._lock:
            drawn = self._maps.get(offices)
            if drawn is None or drawn.generation != generation.number:
                drawn = self._maps[offices] = self.builder.build(
                    generation.number, self._chunks(generation, offices))
            return drawn

    def _chunks(self, generation: Generation, offices: frozenset[str] | None) -> MapChunks:
        with self.database.connect() as db:
            rows = [r for r in office_chunks(db, self.settings.bridge_min_tokens)
                    if offices is None or r["office"].casefold() in offices]
            if len(rows) > self.settings.map_sample_chunks:
                picks = np.linspace(0, len(rows) - 1, self.settings.map_sample_chunks)
                rows = [rows[int(i)] for i in picks]
            stored = chunk_vectors(db, [r["id"] for r in rows], self.encoder.model_id,
                                   self.encoder.dimension)
        by_id = {r["id"]: r for r in rows}
        rows = [by_id[int(i)] for i in stored.ids]  # both in id order, minus any gone
        return MapChunks(ids=stored.ids, offices=[r["office"] for r in rows],
                         documents=[r["document_id"] for r in rows],
                         languages=[r["language"] for r in rows], texts=[r["text"] for r in rows],
                         vectors=generation.offsets.center(stored.vectors, stored.languages))
