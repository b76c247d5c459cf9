"""Near-duplicate chunks and documents, across offices and languages.

Two offices often hold the same material: a deck shared by mail, a report exported once to
PDF and once to DOCX, an interview summary translated for the local team. Byte-identical
files are already stored once (``documents`` is keyed by content hash); near-duplicates are
the near-identical rest.

At each publish every new chunk's language-centred vector is range-searched in the new
index generation: chunks of other documents above ``duplicate_similarity`` are its
near-duplicates (translations included: centring takes out the language). Two documents are
near-duplicates when at least ``duplicate_coverage`` of each one's chunks has a
near-duplicate in the other, so a shared slide does not make two decks near-duplicates, but
it does gather the two slides into one result.

Pairs are stored in both directions (tables ``chunk_twins`` and ``document_twins``) and
leave with their chunks and documents through ``ON DELETE CASCADE``.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import numpy as np

from search.chunks import chunk_documents
from search.documents import document_summaries
from search.index import VectorIndex
from search.records import NearDuplicate
from search.sql import batches, placeholders

# The meta key set once every stored chunk has been range-searched; until then the next
# publish searches them all.
SEARCHED_META = "twins_searched"
_RANGE_BATCH = 1024  # queries per range search: bounds its result memory


@dataclass(frozen=True)
class NearDuplicateRules:
    """When chunks are near-duplicates (similarity) and when documents are (coverage)."""

    similarity: float
    coverage: float


@dataclass(frozen=True)
class DocumentPair:
    """A document and another that near-duplicates it."""

    document_id: int
    other_id: int
    similarity: float  # mean cosine of the matched chunk pairs
    coverage: float  # the smaller share of either's chunks with a match in the other


# --- found at publish -----------------------------------------------------------------
def find_chunk_near_duplicates(db: sqlite3.Connection, index: VectorIndex, ids: np.ndarray,
                               vectors: np.ndarray, rules: NearDuplicateRules) -> set[int]:
    """Store the near-duplicates of chunks ``ids`` (centred ``vectors``); returns the
    documents of those chunks and of their near-duplicates, whose document pairs must be
    confirmed again."""
    pairs: list[tuple[int, int, float]] = []
    for start in range(0, len(ids), _RANGE_BATCH):
        found = index.range_search(vectors[start:start + _RANGE_BATCH], rules.similarity)
        for chunk_id, (other_ids, similarities) in zip(ids[start:start + _RANGE_BATCH], found,
                                                       strict=True):
            pairs += [(int(chunk_id), int(o), float(s))
                      for o, s in zip(other_ids, similarities, strict=True) if o != chunk_id]
    owners = chunk_documents(db, sorted({c for p in pairs for c in p[:2]} | {int(i) for i in ids}))
    pairs = [p for p in pairs if p[1] in owners and owners[p[0]] != owners[p[1]]]
    db.executemany("INSERT OR REPLACE INTO chunk_twins VALUES (?, ?, ?)",
                   pairs + [(b, a, s) for a, b, s in pairs])
    return set(owners.values())


def confirm_document_near_duplicates(db: sqlite3.Connection, document_ids: set[int],
                                     rules: NearDuplicateRules) -> None:
    """Recompute the document pairs of ``document_ids`` from their chunks' pairs."""
    documents = sorted(document_ids)
    for batch in batches(documents):
        marks = placeholders(batch)
        db.execute(f"DELETE FROM document_twins WHERE document_id IN ({marks})"
                   f" OR twin_id IN ({marks})", batch + batch)
    matched: dict[tuple[int, int], tuple[int, float]] = {}  # (doc, other) -> chunks, mean sim
    for batch in batches(documents):
        marks = placeholders(batch)
        for a, b, n, similarity in db.execute(
                "SELECT ca.document_id, cb.document_id, COUNT(DISTINCT ca.id), AVG(t.similarity)"
                " FROM chunk_twins t JOIN chunks ca ON ca.id = t.chunk_id"
                " JOIN chunks cb ON cb.id = t.twin_id"
                f" WHERE ca.document_id IN ({marks}) OR cb.document_id IN ({marks})"
                " GROUP BY ca.document_id, cb.document_id", batch + batch):
            matched[(a, b)] = (n, similarity)
    sizes = _chunk_counts(db, {d for pair in matched for d in pair})
    confirmed: list[DocumentPair] = []
    for (a, b), (n_a, similarity) in matched.items():
        n_b = matched.get((b, a), (0, 0.0))[0]
        coverage = min(n_a / max(sizes.get(a, 1), 1), n_b / max(sizes.get(b, 1), 1))
        if coverage >= rules.coverage:
            confirmed.append(DocumentPair(a, b, similarity, coverage))
    db.executemany("INSERT OR REPLACE INTO document_twins VALUES (?, ?, ?, ?)",
                   [(p.document_id, p.other_id, p.similarity, p.coverage) for p in confirmed])


def _chunk_counts(db: sqlite3.Connection, document_ids: set[int]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for batch in batches(sorted(document_ids)):
        counts.update(db.execute(
            f"SELECT document_id, COUNT(*) FROM chunks WHERE document_id IN"
            f" ({placeholders(batch)}) GROUP BY document_id", batch))
    return counts


# --- read -----------------------------------------------------------------------------
def chunk_near_duplicates(db: sqlite3.Connection, chunk_ids: list[int]) -> dict[int, set[int]]:
    """Chunk id -> its near-duplicates' ids, for those chunks that have any."""
    found: dict[int, set[int]] = {}
    for batch in batches(chunk_ids):
        for chunk_id, other_id in db.execute(
                f"SELECT chunk_id, twin_id FROM chunk_twins WHERE chunk_id IN"
                f" ({placeholders(batch)})", batch):
            found.setdefault(chunk_id, set()).add(other_id)
    return found


def document_pairs(db: sqlite3.Connection, document_ids: list[int]) -> list[DocumentPair]:
    """The near-duplicates of these documents, most similar first."""
    found: list[DocumentPair] = []
    for batch in batches(document_ids):
        found += [DocumentPair(*row) for row in db.execute(
            f"SELECT document_id, twin_id, similarity, coverage FROM document_twins"
            f" WHERE document_id IN ({placeholders(batch)})", batch)]
    return sorted(found, key=lambda p: (-p.similarity, p.other_id))


def document_near_duplicates(db: sqlite3.Connection, document_ids: list[int]
                             ) -> dict[int, set[int]]:
    """Document id -> its near-duplicates' ids, for those documents that have any."""
    found: dict[int, set[int]] = {}
    for pair in document_pairs(db, document_ids):
        found.setdefault(pair.document_id, set()).add(pair.other_id)
    return found


def near_duplicates_of(db: sqlite3.Connection, doc_id: int) -> list[NearDuplicate]:
    """Documents that say nearly the same as this one (copies, translations)."""
    pairs = document_pairs(db, [doc_id])
    summaries = document_summaries(db, [doc_id, *(p.other_id for p in pairs)])
    if doc_id not in summaries:
        return []
    language = summaries[doc_id].language
    return [NearDuplicate(document=summaries[p.other_id], similarity=round(p.similarity, 4),
                          coverage=round(p.coverage, 4),
                          translated=summaries[p.other_id].language != language)
            for p in pairs if p.other_id in summaries]


# --- results --------------------------------------------------------------------------
def gather_near_duplicates(keys: list[int],
                           near: dict[int, set[int]]) -> dict[int, list[int]]:
    """Ranked keys -> the keys shown, each with the later keys that near-duplicate it, in
    order.

    A key goes under the first shown key it near-duplicates; near-duplicates of
    near-duplicates are not chased, so a chain of slightly different copies stays visible.
    """
    shown: dict[int, list[int]] = {}
    for key in keys:
        home = next((k for k in shown if k in near.get(key, ())), None)
        if home is None:
            shown.setdefault(key, [])
        elif key != home and key not in shown[home]:
            shown[home].append(key)
    return shown
