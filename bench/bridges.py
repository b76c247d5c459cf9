"""Cross-language bridging on parallel data: is each document's translation its top bridge?

    python -m bench.bridges [--data ../shared/data] [--workdir DIR] [--limit N]
        [--json-out FILE]

Two parallel sets, each split into two offices of one scratch knowledge base:

* tatoeba: the 1,000 English sentences of tatoeba_eng-fra (office Boston, en) and their
  French translations (office Paris, fr), paired by ``qrels/test.tsv``;
* xquad: the 240 English paragraphs of xquad_es-en_paragraph (Boston, en) and the 240
  Spanish ones of xquad_en-es_paragraph (Madrid, es), paired by their common ``_id``.

1. writes one ``.txt`` file per sentence or paragraph under WORKDIR/<set>/<office>/<id>.txt
   (WORKDIR defaults to a new temporary folder; nothing is written inside the repository)
   and ingests each office folder in process with ``ingest.pipeline.Ingestor`` (office and
   language as overrides, as ``bridge ingest --office --lang`` does) into WORKDIR/<set>/data;
2. asks ``KnowledgeBase.bridges`` (k=10) for every document and finds the rank of its
   translation (a translation folded into a result's ``also_in`` counts at that result's
   rank; absent: reciprocal rank 0). Per set and direction (en->fr, fr->en, en->es, es->en):
   count, top-1 accuracy, MRR@10, sources with a bridge into their own office (must be 0),
   p50/p90 seconds per bridge query;
3. a baseline without margin scoring: each source chunk's plain cosine ranking over the
   other office's centred chunk vectors in the published FAISS index (top 10), only where
   every document is one chunk, so that a chunk's rank is its document's (Tatoeba; XQuAD
   paragraphs are checked and skipped with a note when they are longer);
4. prints a table and one JSON object with every figure (and writes it to --json-out).

``--limit N`` keeps the first N pairs of each set, for a quick run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import REPO, emit, log, new_workdir, percentile, scratch_knowledge_base
from evaluation.beir import read_qrels, read_texts
from ingest.pipeline import Ingestor
from search.bridges import BridgeQuery
from search.chunks import document_chunk_ids
from search.embedding_cache import chunk_vectors
from search.knowledge_base import KnowledgeBase
from search.records import BridgeResult, Document

K = 10
PAGE = 500
# recorded with the figures: they change the bridges (BRIDGE_<NAME> environment variables)
SETTINGS = ("model", "bridge_min_tokens", "bridge_margin_k", "bridge_candidates")

Key = tuple[str, str]  # (office, dataset id)


# --- the parallel sets ---------------------------------------------------------------
@dataclass(frozen=True)
class Side:
    """One language of a parallel set, ingested as one office."""

    office: str
    language: str
    texts: dict[str, str]  # dataset id -> text


@dataclass(frozen=True)
class ParallelSet:
    name: str
    left: Side
    right: Side
    pairs: list[tuple[str, str]]  # (left id, right id), translations of each other

    def sides(self) -> tuple[Side, Side]:
        return self.left, self.right

    @cached_property
    def partners(self) -> dict[Key, Key]:
        """Each key's translation, both ways."""
        forth = {(self.left.office, a): (self.right.office, b) for a, b in self.pairs}
        return forth | {b: a for a, b in forth.items()}

    def translation(self, key: Key) -> Key:
        return self.partners[key]


def limited(name: str, left: Side, right: Side, pairs: list[tuple[str, str]],
            limit: int | None) -> ParallelSet:
    """The set cut to its first ``limit`` pairs, texts included, so only those are ingested."""
    pairs = pairs[:limit]
    keep_left, keep_right = {a for a, _ in pairs}, {b for _, b in pairs}
    return ParallelSet(
        name,
        Side(left.office, left.language, {i: t for i, t in left.texts.items() if i in keep_left}),
        Side(right.office, right.language,
             {i: t for i, t in right.texts.items() if i in keep_right}),
        pairs)


def tatoeba(data: Path, limit: int | None) -> ParallelSet:
    folder = data / "tatoeba_eng-fra"
    pairs = [(q, d) for q, docs in read_qrels(folder / "qrels" / "test.tsv").items()
             for d in docs]
    return limited("tatoeba", Side("Boston", "en", read_texts(folder / "queries.jsonl")),
                   Side("Paris", "fr", read_texts(folder / "corpus.jsonl")), pairs, limit)


def xquad(data: Path, limit: int | None) -> ParallelSet:
    english = read_texts(data / "xquad_es-en_paragraph" / "corpus.jsonl")
    spanish = read_texts(data / "xquad_en-es_paragraph" / "corpus.jsonl")
    return limited("xquad", Side("Boston", "en", english), Side("Madrid", "es", spanish),
                   [(i, i) for i in english if i in spanish], limit)


# --- ingest ----------------------------------------------------------------------------
def write_side(folder: Path, side: Side) -> None:
    folder.mkdir(parents=True)
    for doc_id, text in side.texts.items():
        (folder / f"{doc_id}.txt").write_text(text + "\n", encoding="utf-8")


def ingest(parallel: ParallelSet, workdir: Path) -> tuple[KnowledgeBase, dict[str, Any]]:
    """The set's scratch knowledge base, each office ingested by the real pipeline."""
    kb = scratch_knowledge_base(workdir / parallel.name / "data")
    figures: dict[str, Any] = {}
    for side in parallel.sides():
        folder = workdir / parallel.name / side.office.lower()
        write_side(folder, side)
        report = Ingestor(kb, overrides={"office": side.office, "language": side.language}) \
            .run([folder])
        figures[side.office] = {"files": len(side.texts), "seconds": report.seconds,
                                "failed": len(report.failed)}
        log(f"  {parallel.name}/{side.office}: {report.summary()}")
    return kb, figures


def all_documents(kb: KnowledgeBase) -> list[Document]:
    documents: list[Document] = []
    while True:
        page, total = kb.documents(limit=PAGE, offset=len(documents))
        documents += page
        if not page or len(documents) >= total:
            return documents


def keys_of(document: Document) -> set[Key]:
    """The (office folder, dataset id) of every file holding this content."""
    paths = document.paths or [document.source_path]
    return {(Path(p).parent.name, Path(p).stem) for p in paths}


@dataclass(frozen=True)
class Catalogue:
    """Stored documents against dataset keys; offices by their lower-case folder name."""

    documents: dict[int, Document]
    keys: dict[int, set[Key]]  # document id -> keys
    by_key: dict[Key, int]

    @classmethod
    def of(cls, kb: KnowledgeBase, parallel: ParallelSet) -> Catalogue:
        folders = {side.office.lower(): side.office for side in parallel.sides()}
        documents = {d.id: d for d in all_documents(kb)}
        keys = {i: {(folders[f], k) for f, k in keys_of(d)} for i, d in documents.items()}
        return cls(documents, keys, {k: i for i, ks in keys.items() for k in ks})


# --- bridge ranks ----------------------------------------------------------------------
def translation_rank(result: BridgeResult, wanted: Key, catalogue: Catalogue) -> int | None:
    """1-based rank of the bridge that holds ``wanted`` (itself or folded into also_in)."""
    for rank, bridge in enumerate(result.bridges, 1):
        ids = [bridge.document.id, *(d.id for d in bridge.also_in)]
        if any(wanted in catalogue.keys.get(i, set()) for i in ids):
            return rank
    return None


def own_office(result: BridgeResult, office: str) -> bool:
    """Whether any bridge (or folded duplicate) lies in the source's own office."""
    documents = [d for b in result.bridges for d in (b.document, *b.also_in)]
    return any((d.office or "").casefold() == office.casefold() for d in documents)


def scores(ranks: list[int | None]) -> dict[str, Any]:
    n = len(ranks)
    return {"n": n,
            "top1": round(sum(r == 1 for r in ranks) / n, 4) if n else None,
            "mrr10": round(sum(1 / r for r in ranks if r) / n, 4) if n else None,
            "missing": sum(r is None for r in ranks)}


def bridge_direction(kb: KnowledgeBase, parallel: ParallelSet, catalogue: Catalogue,
                     source: Side) -> dict[str, Any]:
    """Every document of ``source``'s office bridged; where its translation ranks."""
    ranks: list[int | None] = []
    seconds: list[float] = []
    own = 0
    for doc_id in source.texts:
        key = (source.office, doc_id)
        started = time.perf_counter()
        result = kb.bridges(BridgeQuery(document_id=catalogue.by_key[key], k=K))
        seconds.append(time.perf_counter() - started)
        ranks.append(translation_rank(result, parallel.translation(key), catalogue))
        own += own_office(result, source.office)
    return {**scores(ranks), "own_office_sources": own,
            "p50_s": round(percentile(seconds, 50), 4), "p90_s": round(percentile(seconds, 90), 4),
            "mean_s": round(statistics.fmean(seconds), 4)}


# --- the cosine baseline ---------------------------------------------------------------
def chunk_ids(kb: KnowledgeBase, catalogue: Catalogue, office: str) -> dict[int, Key]:
    """Chunk id -> dataset key, for the office's one-chunk documents."""
    with kb.database.connect() as db:
        return {document_chunk_ids(db, doc_id)[0]: key
                for doc_id, keys in catalogue.keys.items() for key in keys if key[0] == office}


def baseline_direction(kb: KnowledgeBase, parallel: ParallelSet, catalogue: Catalogue,
                       source: Side, target: Side) -> dict[str, Any]:
    """Plain cosine top 10 of each source chunk over the target office's chunks."""
    sources = chunk_ids(kb, catalogue, source.office)
    targets = chunk_ids(kb, catalogue, target.office)
    generation = kb.generation()
    with kb.database.connect() as db:
        stored = chunk_vectors(db, list(sources), kb.encoder.model_id, kb.encoder.dimension)
    vectors = generation.offsets.center(stored.vectors, stored.languages)
    _, found = generation.index.search(vectors, K, np.array(sorted(targets), dtype=np.int64))
    ranks: list[int | None] = []
    for chunk_id, row in zip(stored.ids, found, strict=True):
        wanted = parallel.translation(sources[int(chunk_id)])
        hits = [targets.get(int(t)) for t in row]
        ranks.append(hits.index(wanted) + 1 if wanted in hits else None)
    return scores(ranks)


def baseline(kb: KnowledgeBase, parallel: ParallelSet, catalogue: Catalogue) -> dict[str, Any]:
    """Both directions, or a note when a document has several chunks (ranks would differ)."""
    chunks = [d.n_chunks for d in catalogue.documents.values()]
    if max(chunks) > 1:
        note = (f"skipped: {sum(c > 1 for c in chunks)} of {len(chunks)} documents have "
                f"several chunks (up to {max(chunks)})")
        log(f"  {parallel.name} baseline {note}")
        return {"skipped": note}
    left, right = parallel.sides()
    return {direction(left, right): baseline_direction(kb, parallel, catalogue, left, right),
            direction(right, left): baseline_direction(kb, parallel, catalogue, right, left)}


# --- run and report --------------------------------------------------------------------
def direction(source: Side, target: Side) -> str:
    return f"{source.language}->{target.language}"


def measure(parallel: ParallelSet, workdir: Path) -> dict[str, Any]:
    started = time.perf_counter()
    kb, ingested = ingest(parallel, workdir)
    catalogue = Catalogue.of(kb, parallel)
    missing = [k for s in parallel.sides() for k in ((s.office, i) for i in s.texts)
               if k not in catalogue.by_key]
    if missing:
        raise RuntimeError(f"{parallel.name}: {len(missing)} files not stored, e.g. {missing[:3]}")
    chunks = [d.n_chunks for d in catalogue.documents.values()]
    left, right = parallel.sides()
    result: dict[str, Any] = {
        "settings": {name: getattr(kb.settings, name) for name in SETTINGS},
        "pairs": len(parallel.pairs), "documents": len(catalogue.documents),
        "chunks": sum(chunks), "max_chunks_per_document": max(chunks), "ingest": ingested,
        "bridges": {}}
    for source, target in ((left, right), (right, left)):
        log(f"  {parallel.name} bridges {direction(source, target)}")
        result["bridges"][direction(source, target)] = bridge_direction(
            kb, parallel, catalogue, source)
    result["cosine_baseline"] = baseline(kb, parallel, catalogue)
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def table(results: dict[str, Any]) -> str:
    rows = [f"{'set':<8} {'direction':<9} {'method':<8} {'n':>5} {'top-1':>7} {'MRR@10':>7} "
            f"{'own-office':>10} {'p50 s':>7} {'p90 s':>7}"]
    for name, figures in results.items():
        for label, block in (("bridges", figures["bridges"]),
                             ("cosine", figures["cosine_baseline"])):
            if "skipped" in block:
                rows.append(f"{name:<8} {'both':<9} {label:<8} {block['skipped']}")
                continue
            for way, s in block.items():
                timing = (f"{s['own_office_sources']:>10} {s['p50_s']:>7.3f} {s['p90_s']:>7.3f}"
                          if "p50_s" in s else f"{'':>10} {'':>7} {'':>7}")
                rows.append(f"{name:<8} {way:<9} {label:<8} {s['n']:>5} {s['top1']:>7.3f} "
                            f"{s['mrr10']:>7.3f} {timing}")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared/data",
                        help="folder holding tatoeba_eng-fra and the xquad paragraph sets")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="empty or new folder outside the repository (default: a temp dir)")
    parser.add_argument("--limit", type=int, default=None, help="first N pairs of each set")
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args()
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    workdir = new_workdir(parser, args.workdir, "bridge-bench-bridges-")
    log(f"workdir {workdir}")
    started = time.perf_counter()
    results = {p.name: measure(p, workdir)
               for p in (tatoeba(args.data, args.limit), xquad(args.data, args.limit))}
    print(table(results))
    output = {"limit": args.limit, "k": K, "workdir": str(workdir), "sets": results,
              "seconds": round(time.perf_counter() - started, 1)}
    emit(output, args.json_out)


if __name__ == "__main__":
    main()
