"""Documents ranked by their best chunks, for grouped results and for evaluation.

A document ranks by its best chunk, so the first ``offset + k`` documents met down the chunk
ranking are the answer. The chunk ranking is read ``CHUNKS_PER_DOCUMENT`` chunks deep for
each document wanted (at least ``MIN_DEPTH``), and ``DEEPER`` times deeper while many chunks
of a few documents fill it.
"""

from __future__ import annotations

from dataclasses import dataclass

from search.chunks import chunk_documents
from search.database import Database
from search.documents import document_summaries, source_paths
from search.near_duplicates import document_near_duplicates, gather_near_duplicates
from search.queries import Query
from search.records import DocumentHits, Filters, SearchMode
from search.retrieval import Retriever

CHUNKS_PER_DOCUMENT, MIN_DEPTH, DEEPER = 3, 50, 4


@dataclass(frozen=True)
class RankedDocument:
    """A document's place in a ranking: its best chunks (id, score), best first."""

    id: int
    source_path: str
    score: float
    chunks: list[tuple[int, float]]


class DocumentRanker:
    """Ranks documents by their best chunks in the retriever's ranking."""

    def __init__(self, database: Database, retriever: Retriever, hits_per_document: int) -> None:
        self.database = database
        self.retriever = retriever
        self.hits_per_document = hits_per_document

    def rank(self, query: Query, filters: Filters | None, k: int, offset: int,
             mode: SearchMode) -> list[RankedDocument]:
        """The best documents, each with its best chunks (at most ``hits_per_document``).

        Cheap: no hit is built. ``search`` builds the hits of those shown, ``bridge eval``
        needs only the order.
        """
        wanted = offset + k
        depth = max(MIN_DEPTH, wanted * CHUNKS_PER_DOCUMENT)
        while True:
            ranked = self.retriever.rank(query, filters, depth, mode)
            documents = self._best_chunks_by_document(ranked)
            if len(documents) >= wanted or len(ranked) < depth:
                break
            depth *= DEEPER
        page = list(documents.items())[offset:wanted]
        with self.database.connect() as db:
            paths = source_paths(db, [doc_id for doc_id, _ in page])
        return [RankedDocument(doc_id, paths[doc_id], chunks[0][1], chunks)
                for doc_id, chunks in page if doc_id in paths]

    def _best_chunks_by_document(self, ranked: list[tuple[int, float]]
                                 ) -> dict[int, list[tuple[int, float]]]:
        """Document id -> its best ranked chunks (at most ``hits_per_document``), in the
        order the documents are first met; chunks deleted since the index was read drop."""
        with self.database.connect() as db:
            owners = chunk_documents(db, [i for i, _ in ranked])
        documents: dict[int, list[tuple[int, float]]] = {}
        for chunk_id, score in ranked:
            doc_id = owners.get(chunk_id)
            if doc_id is None:
                continue
            chunks = documents.setdefault(doc_id, [])
            if len(chunks) < self.hits_per_document:
                chunks.append((chunk_id, score))
        return documents

    def search(self, query: Query, filters: Filters | None, k: int, offset: int,
               mode: SearchMode) -> list[DocumentHits]:
        """The best documents for ``query``, each with its best chunks' hits, best first."""
        ranked = self.rank(query, filters, 2 * k, offset, mode)
        with self.database.connect() as db:
            near = document_near_duplicates(db, [d.id for d in ranked])
        shown = list(gather_near_duplicates([d.id for d in ranked], near).items())[:k]
        by_id = {d.id: d for d in ranked}
        hits = self.retriever.hits(query,
                                   [c for doc_id, _ in shown for c in by_id[doc_id].chunks])
        groups: dict[int, DocumentHits] = {}
        for hit in hits:
            group = groups.setdefault(
                hit.document.id, DocumentHits(document=hit.document, score=hit.score, hits=[]))
            group.hits.append(hit)
        gathered = dict(shown)
        with self.database.connect() as db:
            summaries = document_summaries(db, [i for ids in gathered.values() for i in ids])
        for doc_id, group in groups.items():
            group.also_in = [summaries[i] for i in gathered[doc_id] if i in summaries]
        return list(groups.values())
