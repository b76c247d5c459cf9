"""Reciprocal-rank fusion of the dense and keyword rankings, fair across languages.

RRF (Cormack et al., 2009) adds ``weight / (k + rank)`` over the lists a chunk
appears in, so neither list's score scale matters. Fused naively, a keyword
list drags cross-language search down: it can only match a chunk written in
the query's language (or a shared name or number), so every same-language
chunk collects two contributions while the right answer in another language
collects one. Here the keyword side abstains on a chunk it cannot judge
instead of voting against it: a chunk in another language than the query's,
or where either language is unknown (short sentences often are), is credited
its dense rank on the keyword side too, unless its own keyword rank is better
(a shared name). Over a one-language corpus this is plain RRF; over a corpus
entirely in another language than the query it is the dense ranking, improved
only by exact matches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FusionWeights:
    k: int
    dense: float
    lexical: float


def fuse(dense: Sequence[int], lexical: Sequence[int], languages: Mapping[int, str | None],
         query_language: str | None, weights: FusionWeights) -> list[tuple[int, float]]:
    """Chunk ids with fused scores, best first (ties by id, so paging is stable).

    ``languages`` maps each candidate chunk to its language; the keyword side
    judges a chunk only when both its language and the query's are known and
    the same.
    """
    dense_rank = {chunk_id: rank for rank, chunk_id in enumerate(dense, 1)}
    lexical_rank = {chunk_id: rank for rank, chunk_id in enumerate(lexical, 1)}
    scores: dict[int, float] = {}
    for chunk_id in dense_rank.keys() | lexical_rank.keys():
        score = 0.0
        rank = lexical_rank.get(chunk_id)
        if chunk_id in dense_rank:
            score += weights.dense / (weights.k + dense_rank[chunk_id])
            language = languages.get(chunk_id)
            if not query_language or not language or language != query_language:
                rank = min(rank or dense_rank[chunk_id], dense_rank[chunk_id])
        if rank is not None:
            score += weights.lexical / (weights.k + rank)
        scores[chunk_id] = score
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))
