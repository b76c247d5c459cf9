"""Scoring ranked lists against judgments, with ``ir_measures`` (trec_eval underneath).

The metrics come from a maintained library rather than hand-written code, so the figures
mean what they mean elsewhere: nDCG@10, Recall@100 and MRR@10, averaged over every judged
query, a query the engine returns nothing relevant for counting as zero. ``bridge eval`` and
the side-by-side benchmark score with the same function, so their figures compare.
"""

from __future__ import annotations

from typing import Any

import ir_measures
import numpy as np
from ir_measures import RR, Qrel, R, ScoredDoc, nDCG

DEPTH = 100  # documents retrieved per query: what Recall@100 needs
NDCG_10, RECALL_100, MRR_10 = nDCG @ 10, R @ 100, RR @ 10


def score_run(qrels: dict[str, dict[str, int]], ranked: dict[str, list[str]]
              ) -> dict[str, float]:
    """Mean nDCG@10, R@100 and RR@10 of ranked lists (best first) over every judged query.

    Scores handed to trec_eval come from the rank (1/rank), because it breaks score ties by
    document id and would reorder what the engine returned. Per-query values missing from
    the calculator (a query with no hits) are filled with zero explicitly rather than relying
    on the calculator's own convention.
    """
    judged = [Qrel(q, d, rel) for q, docs in qrels.items() for d, rel in docs.items()]
    run = [ScoredDoc(q, d, 1.0 / rank) for q, docs in ranked.items() if q in qrels
           for rank, d in enumerate(docs, 1)]
    measures = {"ndcg_at_10": NDCG_10, "recall_at_100": RECALL_100, "mrr_at_10": MRR_10}
    per_query: dict[Any, dict[str, float]] = {m: {} for m in measures.values()}
    for metric in ir_measures.iter_calc(list(measures.values()), judged, run):
        per_query[metric.measure][metric.query_id] = float(metric.value)
    return {name: float(np.mean([per_query[m].get(q, 0.0) for q in qrels]))
            for name, m in measures.items()}
