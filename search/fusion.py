"""Reciprocal-rank fusion of the dense and keyword rankings, aware of languages.

RRF (Cormack et al., 2009) adds ``weight / (k + rank)`` over the lists a chunk
appears in, so neither list's score scale matters. Fused with equal weight, a
keyword list drags cross-language search down: it can only match a chunk in
the query's own language (or a shared name or number), so it promotes
same-language chunks over the right answer in another language. Each keyword
hit's weight is therefore scaled down when its chunk's language is not the
query's; the dense list keeps full weight. Measured per language pair with
``bridge eval`` (README, "Quality").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FusionWeights:
    k: int
    dense: float
    lexical: float
    lexical_cross_language: float  # factor on ``lexical`` when the languages differ


def fuse(dense: Sequence[int], lexical: Sequence[int], lexical_languages: Sequence[str | None],
         query_language: str | None, weights: FusionWeights) -> list[tuple[int, float]]:
    """Chunk ids with fused scores, best first (ties by id, so paging is stable)."""
    scores: dict[int, float] = defaultdict(float)
    for rank, chunk_id in enumerate(dense, 1):
        scores[chunk_id] += weights.dense / (weights.k + rank)
    for rank, (chunk_id, language) in enumerate(zip(lexical, lexical_languages, strict=True), 1):
        same = query_language is None or language is None or language == query_language
        weight = weights.lexical * (1.0 if same else weights.lexical_cross_language)
        scores[chunk_id] += weight / (weights.k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))
