"""Retrieval evaluation on a BEIR-format dataset: the engine behind ``bridge eval``.

A BEIR folder holds ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl``
(``_id``, ``text``) and ``qrels/<split>.tsv`` (a header line, then
``query-id<TAB>corpus-id<TAB>score``).

The corpus goes through the real ingest pipeline, not a shortcut that embeds the texts
directly, so the figures measure what a user gets: parsing, language detection, chunking,
centring and document grouping included. Each corpus record becomes one Markdown file in a
scratch folder keyed by the dataset and the settings that shape the index; the ingest is
incremental, so a second run (another mode, another split) embeds nothing.

Metrics come from ``ir_measures`` (trec_eval underneath) rather than hand-written code:
nDCG@10, Recall@100 and MRR@10, averaged over every judged query, a query the engine
returns nothing relevant for counting as zero.

This module lives in ``api`` because it drives both ``ingest`` and ``search``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import ir_measures
import numpy as np
from ir_measures import RR, Qrel, R, ScoredDoc, nDCG
from pydantic import BaseModel

from search.records import SearchMode
from search.settings import Settings

if TYPE_CHECKING:
    from search.knowledge_base import KnowledgeBase, RankedDocument

T = TypeVar("T")
Progress = Callable[[Iterable[T], str], Iterable[T]]
"""Wraps an iterable with a description (e.g. ``lambda it, desc: tqdm(it, desc=desc)``)."""

DEPTH = 100  # documents retrieved per query: what Recall@100 needs
NDCG_10, RECALL_100, MRR_10 = nDCG @ 10, R @ 100, RR @ 10
SCRATCH_FILES, SCRATCH_IDS, SCRATCH_DATA = "files", "ids.json", "data"

# Settings that change what ends up in the index; a scratch knowledge base built under
# other values would silently measure stale chunks or vectors, so they key the folder.
_INDEX_SHAPING = ("model", "encoder_precision", "index_backend", "chunk_tokens",
                  "chunk_overlap_tokens", "language_centering", "centroid_shrinkage", "languages")


class DatasetError(ValueError):
    """The folder is not a usable BEIR dataset; the message names the file at fault."""


# --- reading BEIR -----------------------------------------------------------------------
@dataclass(frozen=True)
class CorpusRecord:
    title: str
    text: str


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a bad line names file and line."""
    if not path.is_file():
        raise DatasetError(f"missing {path}")
    with path.open(encoding="utf-8-sig") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{number}: not JSON ({exc.msg})") from exc
            if not isinstance(record, dict) or "_id" not in record:
                raise DatasetError(f"{path}:{number}: a record needs an \"_id\"")
            yield number, record


def read_corpus(path: Path) -> dict[str, CorpusRecord]:
    """Corpus id -> title and text, in file order (the order fixes the scratch file names)."""
    corpus: dict[str, CorpusRecord] = {}
    for number, record in _jsonl(path):
        doc_id = str(record["_id"])
        if doc_id in corpus:
            raise DatasetError(f"{path}:{number}: duplicate _id {doc_id!r}")
        corpus[doc_id] = CorpusRecord(str(record.get("title") or ""),
                                      str(record.get("text") or ""))
    if not corpus:
        raise DatasetError(f"{path} has no documents")
    return corpus


def read_queries(path: Path) -> dict[str, str]:
    """Query id -> query text."""
    return {str(record["_id"]): str(record.get("text") or "") for _, record in _jsonl(path)}


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """Query id -> {corpus id: relevance}; the header line (a non-numeric score) is skipped."""
    if not path.is_file():
        raise DatasetError(f"missing {path}")
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8-sig") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            fields = [field.strip() for field in line.rstrip("\r\n").split("\t")]
            if len(fields) != 3:
                raise DatasetError(f"{path}:{number}: expected query-id, corpus-id and score "
                                   "separated by tabs")
            query_id, doc_id, score = fields
            try:
                relevance = int(float(score))
            except ValueError as exc:
                if number == 1:  # the header
                    continue
                raise DatasetError(f"{path}:{number}: score {score!r} is not a number") from exc
            qrels.setdefault(query_id, {})[doc_id] = relevance
    return qrels


@dataclass(frozen=True)
class Dataset:
    """A BEIR dataset with one split's judgments, restricted to the queries it can score."""

    name: str
    corpus_path: Path
    corpus: dict[str, CorpusRecord]
    queries: dict[str, str]  # only the judged queries with at least one relevant document
    qrels: dict[str, dict[str, int]]  # for those queries


def load_dataset(dataset_dir: Path, split: str) -> Dataset:
    """Read and check a BEIR folder; every problem is a ``DatasetError`` naming its file.

    Queries whose judgments are all zero are left out: with nothing relevant, every metric
    is undefined for them, and counting them as zero would only measure the judging.
    """
    qrels_path = dataset_dir / "qrels" / f"{split}.tsv"
    paths = [dataset_dir / "corpus.jsonl", dataset_dir / "queries.jsonl", qrels_path]
    for path in paths:
        if not path.is_file():
            raise DatasetError(f"missing {path} (a BEIR dataset needs corpus.jsonl, "
                               "queries.jsonl and qrels/<split>.tsv)")
    qrels = {q: docs for q, docs in read_qrels(qrels_path).items()
             if any(rel > 0 for rel in docs.values())}
    if not qrels:
        raise DatasetError(f"{qrels_path} judges no query relevant to any document "
                           f"(empty split {split!r})")
    all_queries = read_queries(paths[1])
    missing = [q for q in qrels if q not in all_queries]
    if missing:
        raise DatasetError(f"{qrels_path} judges {len(missing)} queries missing from "
                           f"{paths[1]}, e.g. {missing[0]!r}")
    return Dataset(
        name=dataset_dir.resolve().name,
        corpus_path=paths[0],
        corpus=read_corpus(paths[0]),
        queries={q: all_queries[q] for q in qrels},
        qrels=qrels,
    )


# --- the scratch knowledge base ----------------------------------------------------------
def scratch_dir(dataset_dir: Path, settings: Settings, root: Path | None = None) -> Path:
    """The dataset's scratch folder: a new one whenever the corpus or the index settings
    change, so an old index is never measured by mistake (and never needs cleaning up)."""
    corpus = dataset_dir / "corpus.jsonl"
    stat = corpus.stat()
    key = json.dumps({
        "dataset": str(dataset_dir.resolve()), "size": stat.st_size, "mtime": stat.st_mtime_ns,
        **{name: getattr(settings, name) for name in _INDEX_SHAPING},
    }, sort_keys=True, default=str)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return (root or settings.cache_dir / "eval") / f"{dataset_dir.resolve().name}-{digest}"


def markdown(record: CorpusRecord) -> str:
    """The file a record becomes: its title as the heading, so it is the document's title."""
    title, text = " ".join(record.title.split()), record.text
    if title:
        return f"# {title}\n\n{text}\n"
    if text.lstrip("\ufeff").startswith("---"):
        text = "\n" + text  # a leading '---' line would be read as YAML front matter
    return f"{text}\n"


def write_corpus_files(corpus: dict[str, CorpusRecord], scratch: Path) -> dict[str, str]:
    """One Markdown file per record under ``scratch/files``; returns file stem -> corpus id.

    Files already there with the right content are left alone (their mtimes too), so the
    incremental ingest skips them. The id map is written last, as the sign that the folder
    is complete; it lives outside ``files`` so it is never ingested.
    """
    files = scratch / SCRATCH_FILES
    ids_path = scratch / SCRATCH_IDS
    width = max(6, len(str(len(corpus) - 1)))
    ids = {f"{n:0{width}d}": doc_id for n, doc_id in enumerate(corpus)}
    if ids_path.is_file() and json.loads(ids_path.read_text(encoding="utf-8")) == ids:
        return ids
    files.mkdir(parents=True, exist_ok=True)
    for stem, doc_id in ids.items():
        path = files / f"{stem}.md"
        content = markdown(corpus[doc_id]).encode("utf-8")
        if not path.is_file() or path.read_bytes() != content:
            path.write_bytes(content)
    tmp = ids_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(ids), encoding="utf-8")
    os.replace(tmp, ids_path)
    return ids


# --- the report ----------------------------------------------------------------------------
class ModeResult(BaseModel):
    """One search mode's figures over the split's judged queries."""

    mode: SearchMode
    ndcg_at_10: float
    recall_at_100: float
    mrr_at_10: float
    p50_ms: float
    p95_ms: float
    queries: int


class EvalReport(BaseModel):
    """Everything ``bridge eval`` prints; ``model_dump(mode="json")`` is its ``--json``."""

    dataset: str
    split: str
    model: str
    documents: int  # corpus records
    chunks: int  # chunks in the scratch knowledge base
    ingest_seconds: float
    indexed_files: int  # files (re-)embedded by this run; 0 when the index was up to date
    unchanged_files: int
    embedded_chunks: int
    failed_files: list[str]  # "file (corpus id): reason", e.g. an empty record
    scratch_dir: str
    results: list[ModeResult]


# --- scoring -------------------------------------------------------------------------------
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


def _no_progress(items: Iterable[T], _description: str) -> Iterable[T]:
    return items


def same_content(corpus: dict[str, CorpusRecord], ids: dict[str, str]) -> dict[str, list[str]]:
    """File stem -> every corpus id whose file has the same content.

    The knowledge base stores one document per distinct content and a hit names one of its
    paths, so records with identical text are all found when any one of them is.
    """
    groups: dict[str, list[str]] = {}
    for doc_id in ids.values():
        groups.setdefault(markdown(corpus[doc_id]), []).append(doc_id)
    return {stem: groups[markdown(corpus[doc_id])] for stem, doc_id in ids.items()}


def corpus_ids(documents: list[RankedDocument], ids: dict[str, list[str]]) -> list[str]:
    """The corpus ids of ranked documents, in order; ``ids`` maps a file stem to the ids of
    the records it holds (see ``same_content``)."""
    found: dict[str, None] = {}
    for document in documents:
        for doc_id in ids.get(Path(document.source_path).stem, []):
            found.setdefault(doc_id)
    return list(found)


def run_mode(kb: KnowledgeBase, dataset: Dataset, ids: dict[str, list[str]], mode: SearchMode,
             progress: Progress = _no_progress) -> ModeResult:
    """Every judged query through ``kb.rank_documents`` in ``mode``, timed one by one.

    ``ids`` maps a file stem to its corpus ids (see ``same_content``). One untimed query
    runs first, so loading the index generation is not counted as latency.
    """
    def ranked_ids(query: str) -> list[str]:
        return corpus_ids(kb.rank_documents(query, k=DEPTH, mode=mode)[1], ids)

    ranked_ids(next(iter(dataset.queries.values())))
    ranked: dict[str, list[str]] = {}
    latencies_ms: list[float] = []
    for query_id, text in progress(dataset.queries.items(), f"eval {mode.value}"):
        started = time.perf_counter()
        ranked[query_id] = ranked_ids(text)
        latencies_ms.append((time.perf_counter() - started) * 1000)
    p50, p95 = np.percentile(latencies_ms, [50, 95])
    return ModeResult(mode=mode, **score_run(dataset.qrels, ranked), p50_ms=float(p50),
                      p95_ms=float(p95), queries=len(ranked))


def evaluate(dataset_dir: Path, split: str, modes: list[SearchMode], settings: Settings,
             progress: Progress | None = None, scratch_root: Path | None = None) -> EvalReport:
    """Ingest the dataset's corpus into its scratch knowledge base and score each mode.

    ``scratch_root`` defaults to ``settings.cache_dir / "eval"``; the model cache stays
    wherever ``settings.cache_dir`` says, so moving one does not move the other.
    """
    from api.app import open_knowledge_base  # loads torch; keep `import api.evaluation` light
    from ingest.pipeline import Ingestor

    wrap: Progress = progress or _no_progress
    dataset = load_dataset(dataset_dir, split)
    scratch = scratch_dir(dataset_dir, settings, scratch_root)
    ids = write_corpus_files(dataset.corpus, scratch)
    eval_settings = settings.model_copy(update={"data_dir": scratch / SCRATCH_DATA})
    eval_settings.data_dir.mkdir(parents=True, exist_ok=True)
    kb = open_knowledge_base(eval_settings)
    ingest = Ingestor(kb).run([scratch / SCRATCH_FILES],
                              progress=lambda files: wrap(files, "ingest"))
    aliases = same_content(dataset.corpus, ids)
    kb.encoder.prepare_queries()  # every judged query follows: worth the session's load
    results = [run_mode(kb, dataset, aliases, SearchMode(mode), wrap)
               for mode in dict.fromkeys(modes)]
    return EvalReport(
        dataset=dataset.name,
        split=split,
        model=kb.encoder.model_id,
        documents=len(dataset.corpus),
        chunks=kb.store.counts()["chunks"],
        ingest_seconds=round(ingest.seconds, 3),
        indexed_files=len(ingest.added) + len(ingest.updated),
        unchanged_files=ingest.unchanged,
        embedded_chunks=ingest.chunks_embedded,
        failed_files=[f"{Path(f.path).name} ({ids.get(Path(f.path).stem, '?')}): {f.reason}"
                      for f in ingest.failed],
        scratch_dir=str(scratch),
        results=results,
    )


# --- output ----------------------------------------------------------------------------------
def render_table(report: EvalReport) -> str:
    """A header line about the dataset and index, then one aligned row per mode."""
    head = (f"{report.dataset} [{report.split}]: {report.documents} documents, "
            f"{report.chunks} chunks, model {report.model}; ingest {report.ingest_seconds:.1f}s "
            f"({report.indexed_files} files embedded, {report.unchanged_files} unchanged"
            + (f", {len(report.failed_files)} failed" if report.failed_files else "") + ")")
    columns = ["mode", "nDCG@10", "R@100", "MRR@10", "p50 ms", "p95 ms", "queries"]
    rows = [[r.mode.value, f"{r.ndcg_at_10:.3f}", f"{r.recall_at_100:.3f}", f"{r.mrr_at_10:.3f}",
             f"{r.p50_ms:.1f}", f"{r.p95_ms:.1f}", str(r.queries)] for r in report.results]
    widths = [max(len(row[i]) for row in [columns, *rows]) for i in range(len(columns))]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                         for i, (cell, w) in enumerate(zip(cells, widths, strict=True)))

    return "\n".join([head, line(columns), *(line(row) for row in rows)])
