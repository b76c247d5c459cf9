"""Ingesting a BEIR corpus into a scratch knowledge base and running its judged queries.

The corpus goes through the real ingest pipeline, not a shortcut that embeds the texts
directly, so the figures measure what a user gets: parsing, language detection, chunking,
centring and document grouping included. Each corpus record becomes one Markdown file in a
scratch folder keyed by the dataset and the settings that shape the index; the ingest is
incremental, so a second run (another mode, another split) embeds nothing. The knowledge
base is opened as the server opens it (``search.opening``), threads and model included.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from evaluation.beir import CorpusRecord, Dataset, load_dataset
from evaluation.metrics import DEPTH, score_run
from evaluation.report import EvalReport, ModeResult
from search.records import RunReport, SearchMode
from search.settings import Settings

if TYPE_CHECKING:
    from search.document_ranking import RankedDocument
    from search.knowledge_base import KnowledgeBase

T = TypeVar("T")
Progress = Callable[[Iterable[T], str], Iterable[T]]
"""Wraps an iterable with a description (e.g. ``lambda it, desc: tqdm(it, desc=desc)``)."""

SCRATCH_FILES, SCRATCH_IDS, SCRATCH_DATA = "files", "ids.json", "data"

# Settings that change what ends up in the index; a scratch knowledge base built under
# other values would silently measure stale chunks or vectors, so they key the folder.
_INDEX_SHAPING = ("model", "encoder_precision", "index_backend", "chunk_tokens",
                  "chunk_overlap_tokens", "language_centering", "languages")


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


@dataclass(frozen=True)
class Scratch:
    """A dataset's scratch folder with its corpus files written, ready to ingest."""

    folder: Path
    ids: dict[str, str]  # file stem -> corpus id
    settings: Settings  # the caller's, with the data directory inside ``folder``

    @property
    def files(self) -> Path:
        return self.folder / SCRATCH_FILES


def prepare_scratch(dataset_dir: Path, corpus: dict[str, CorpusRecord], settings: Settings,
                    root: Path | None = None) -> Scratch:
    """Write ``corpus`` into the dataset's scratch folder under ``root`` (see ``scratch_dir``)."""
    folder = scratch_dir(dataset_dir, settings, root)
    ids = write_corpus_files(corpus, folder)
    scratch_settings = settings.model_copy(update={"data_dir": folder / SCRATCH_DATA})
    scratch_settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Scratch(folder, ids, scratch_settings)


# --- ranking the judged queries ----------------------------------------------------------
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


# --- the whole evaluation ------------------------------------------------------------------
def evaluate(dataset_dir: Path, split: str, modes: list[SearchMode], settings: Settings,
             progress: Progress | None = None, scratch_root: Path | None = None) -> EvalReport:
    """Ingest the dataset's corpus into its scratch knowledge base and score each mode.

    ``scratch_root`` defaults to ``settings.cache_dir / "eval"``; the model cache stays
    wherever ``settings.cache_dir`` says, so moving one does not move the other.
    """
    from ingest.pipeline import Ingestor  # loads torch; keep `import evaluation.harness` light
    from search.opening import open_knowledge_base

    wrap: Progress = progress or _no_progress
    dataset = load_dataset(dataset_dir, split)
    scratch = prepare_scratch(dataset_dir, dataset.corpus, settings, scratch_root)
    kb = open_knowledge_base(scratch.settings)
    ingest = Ingestor(kb).run([scratch.files], progress=lambda files: wrap(files, "ingest"))
    aliases = same_content(dataset.corpus, scratch.ids)
    kb.encoder.prepare_queries()  # every judged query follows: worth the session's load
    results = [run_mode(kb, dataset, aliases, SearchMode(mode), wrap)
               for mode in dict.fromkeys(modes)]
    return _report(dataset, split, kb, scratch, ingest, results)


def _report(dataset: Dataset, split: str, kb: KnowledgeBase, scratch: Scratch,
            ingest: RunReport, results: list[ModeResult]) -> EvalReport:
    return EvalReport(
        dataset=dataset.name,
        split=split,
        model=kb.encoder.model_id,
        documents=len(dataset.corpus),
        chunks=kb.status()["chunks"],
        ingest_seconds=round(ingest.seconds, 3),
        indexed_files=len(ingest.added) + len(ingest.updated),
        unchanged_files=ingest.unchanged,
        embedded_chunks=ingest.chunks_embedded,
        failed_files=[f"{Path(f.path).name} ({scratch.ids.get(Path(f.path).stem, '?')}): "
                      f"{f.reason}" for f in ingest.failed],
        scratch_dir=str(scratch.folder),
        results=results,
    )
