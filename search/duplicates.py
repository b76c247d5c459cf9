"""Near-duplicate chunks and documents, across offices and languages ("twins").

Two offices often hold the same material: a deck shared by mail, a report
exported once to PDF and once to DOCX, an interview summary translated for the
local team. Byte-identical files are already stored once (``documents`` is
keyed by content hash); twins are the near-identical rest.

At each publish every new chunk's language-centred vector is range-searched
in the new index generation: chunks of other documents above
``duplicate_similarity`` are its twins (translations included: centring takes
out the language, and a translated paragraph stays above 0.91 on XQuAD while
different paragraphs on related topics stay below 0.90). Two documents are
twins when at least ``duplicate_coverage`` of each one's chunks has a twin in
the other, so a shared slide does not make two decks duplicates, but it does
fold the two slides in a result list.

Pairs are stored in both directions; they leave with their chunks and
documents through ``ON DELETE CASCADE``. The functions here run inside the
caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from search.index import VectorIndex
from search.sql import batches, placeholders

# Set once every stored chunk has been range-searched (an index built before
# twins existed is searched in full at its next publish).
SEARCHED_KEY = "twins_searched"


@dataclass(frozen=True)
class TwinRules:
    similarity: float
    coverage: float


@dataclass(frozen=True)
class DocumentTwin:
    document_id: int
    twin_id: int
    similarity: float
    coverage: float


def find_chunk_twins(db: sqlite3.Connection, index: VectorIndex, ids: np.ndarray,
                     vectors: np.ndarray, rules: TwinRules) -> set[int]:
    """Store the twins of chunks ``ids`` (centred ``vectors``); returns their documents.

    The documents returned are those of the new chunks and of their twins: the
    ones whose document-level twins must be confirmed again.
    """
    pairs: list[tuple[int, int, float]] = []
    for start in range(0, len(ids), 1024):  # bounds the range search's result memory
        found = index.range_search(vectors[start:start + 1024], rules.similarity)
        for chunk_id, (twin_ids, similarities) in zip(ids[start:start + 1024], found,
                                                      strict=True):
            pairs += [(int(chunk_id), int(t), float(s))
                      for t, s in zip(twin_ids, similarities, strict=True) if t != chunk_id]
    owners = _chunk_owners(db, {c for p in pairs for c in p[:2]} | {int(i) for i in ids})
    pairs = [p for p in pairs if p[1] in owners and owners[p[0]] != owners[p[1]]]
    db.executemany("INSERT OR REPLACE INTO chunk_twins VALUES (?, ?, ?)",
                   pairs + [(b, a, s) for a, b, s in pairs])
    return set(owners.values())


def _chunk_owners(db: sqlite3.Connection, chunk_ids: Iterable[int]) -> dict[int, int]:
    owners: dict[int, int] = {}
    for batch in batches(sorted(chunk_ids)):
        owners.update(db.execute(
            f"SELECT id, document_id FROM chunks WHERE id IN ({placeholders(batch)})", batch))
    return owners


def confirm_document_twins(db: sqlite3.Connection, document_ids: set[int],
                           rules: TwinRules) -> None:
    """Recompute the document-level twins of ``document_ids`` from their chunk twins."""
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
    twins: list[DocumentTwin] = []
    for (a, b), (n_a, similarity) in matched.items():
        n_b = matched.get((b, a), (0, 0.0))[0]
        coverage = min(n_a / max(sizes.get(a, 1), 1), n_b / max(sizes.get(b, 1), 1))
        if coverage >= rules.coverage:
            twins.append(DocumentTwin(a, b, similarity, coverage))
    db.executemany("INSERT OR REPLACE INTO document_twins VALUES (?, ?, ?, ?)",
                   [(t.document_id, t.twin_id, t.similarity, t.coverage) for t in twins])


def _chunk_counts(db: sqlite3.Connection, document_ids: set[int]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for batch in batches(sorted(document_ids)):
        counts.update(db.execute(
            f"SELECT document_id, COUNT(*) FROM chunks WHERE document_id IN"
            f" ({placeholders(batch)}) GROUP BY document_id", batch))
    return counts


def chunk_twin_map(db: sqlite3.Connection, chunk_ids: list[int]) -> dict[int, set[int]]:
    """Chunk id -> its twins' ids, for those chunks that have any."""
    twins: dict[int, set[int]] = {}
    for batch in batches(chunk_ids):
        for chunk_id, twin_id in db.execute(
                f"SELECT chunk_id, twin_id FROM chunk_twins WHERE chunk_id IN"
                f" ({placeholders(batch)})", batch):
            twins.setdefault(chunk_id, set()).add(twin_id)
    return twins


def document_twins(db: sqlite3.Connection, document_ids: list[int]) -> list[DocumentTwin]:
    """The twins of these documents, most similar first."""
    found: list[DocumentTwin] = []
    for batch in batches(document_ids):
        found += [DocumentTwin(*row) for row in db.execute(
            f"SELECT document_id, twin_id, similarity, coverage FROM document_twins"
            f" WHERE document_id IN ({placeholders(batch)})", batch)]
    return sorted(found, key=lambda t: (-t.similarity, t.twin_id))


def fold(keys: list[int], twins: dict[int, set[int]]) -> dict[int, list[int]]:
    """Ranked keys -> the keys shown, each with the later twins folded into it, in order.

    A key is folded into the first shown key it is a twin of; twins of twins
    are not chased, so a chain of slightly different copies stays visible.
    """
    shown: dict[int, list[int]] = {}
    for key in keys:
        home = next((t for t in shown if t in twins.get(key, ())), None)
        if home is None:
            shown.setdefault(key, [])
        elif key != home and key not in shown[home]:
            shown[home].append(key)
    return shown


def twin_map(pairs: list[DocumentTwin]) -> dict[int, set[int]]:
    twins: dict[int, set[int]] = {}
    for pair in pairs:
        twins.setdefault(pair.document_id, set()).add(pair.twin_id)
    return twins
