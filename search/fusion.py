"""Hybrid ranking: reciprocal-rank fusion of the dense and keyword lists, exact matches first.

RRF (Cormack et al., 2009) adds ``weight / (k + rank)`` over the lists a chunk appears in,
so neither list's score scale matters. Two rules adapt it to a corpus in many languages
that people search by names:

- **The keyword side abstains where it cannot judge.** It can only match a chunk written in
  the query's language (or sharing a name or number), so fused naively every same-language
  chunk collects two votes while the right answer in another language collects one. A chunk
  whose language is known and differs from the query's (also known) is credited its dense
  rank on the keyword side, unless its own keyword rank is better (a shared name). A query
  whose language is not known (a name, a code: too short to tell) is judged by both sides
  everywhere: a name is spelled alike in every language, and a chunk without it does not
  match it.
- **A decisive keyword match comes first** in a query that names something (a few words,
  one of them a name or a code: ``search.naming``). Ranks count
  a keyword win by a wide margin the same as a coin toss, and the dense list cannot know an
  invented name: "Quarkblossom syndrome" scores 6.0 in the one chunk that holds both words
  and under 3.0 in those that hold "syndrome" alone. When the top keyword scores stand
  ``exact_match_gap`` times above the next one, those few chunks (at most
  ``exact_match_chunks``: a name's passage and its overlapping neighbour, its translations)
  go first, in their fused order; the rest follow. A longer query describes rather than
  names: its top keyword chunk may lead by many shared words, and the rule would put a
  same-language passage above the finding it describes in another language (measured in
  docs/quality.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FusionWeights:
    k: int
    dense: float
    lexical: float
    exact_match_gap: float  # 0: no exact-match rule
    exact_match_chunks: int


def _judged(language: str | None, query_language: str | None) -> bool:
    """Whether the keyword side can judge a chunk of ``language`` for this query: only when
    both languages are known and the same."""
    return bool(query_language and language and language == query_language)


def decisive_matches(lexical: Sequence[tuple[int, float]], gap: float, most: int) -> list[int]:
    """The keyword list's top chunks when their scores stand ``gap`` times above the next
    one's (at most ``most`` of them); none when no such drop comes that early."""
    if gap <= 0:
        return []
    for count in range(1, min(most, len(lexical)) + 1):
        following = lexical[count][1] if count < len(lexical) else 0.0
        if lexical[count - 1][1] >= gap * following:
            return [chunk_id for chunk_id, _ in lexical[:count]]
    return []


def fuse(dense: Sequence[tuple[int, float]], lexical: Sequence[tuple[int, float]],
         languages: Mapping[int, str | None], query_language: str | None,
         names_something: bool, weights: FusionWeights) -> list[tuple[int, float]]:
    """Chunk ids with fused scores, best first (ties by id, so paging is stable).

    ``dense`` and ``lexical`` are (chunk id, score) lists, best first; ``languages`` maps
    each candidate chunk to its language; ``names_something`` says whether the query names
    something (``search.naming``), which lets a decisive keyword match lead.
    """
    dense_rank = {chunk_id: rank for rank, (chunk_id, _) in enumerate(dense, 1)}
    lexical_rank = {chunk_id: rank for rank, (chunk_id, _) in enumerate(lexical, 1)}
    scores: dict[int, float] = {}
    for chunk_id in dense_rank.keys() | lexical_rank.keys():
        score = 0.0
        rank = lexical_rank.get(chunk_id)
        if chunk_id in dense_rank:
            score += weights.dense / (weights.k + dense_rank[chunk_id])
            language = languages.get(chunk_id)
            if not _judged(language, query_language):
                rank = min(rank or dense_rank[chunk_id], dense_rank[chunk_id])
        if rank is not None:
            score += weights.lexical / (weights.k + rank)
        scores[chunk_id] = score
    fused = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    if not names_something:
        return fused
    judged = [hit for hit in lexical
              if not query_language or _judged(languages.get(hit[0]), query_language)]
    first = set(decisive_matches(judged, weights.exact_match_gap, weights.exact_match_chunks))
    return [hit for hit in fused if hit[0] in first] + [hit for hit in fused
                                                         if hit[0] not in first]
