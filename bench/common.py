"""What the benchmarks share, so each one holds only its own measurement: a scratch knowledge
base and the model, the sample corpus's queries, BEIR sets cut down for a quick run, where an
abstract's sentences end, the machine's load average, percentiles and the JSON output.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from dataclasses import replace
from itertools import islice
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from evaluation.beir import Dataset
from search.embedding import Encoder, configured_encoder
from search.knowledge_base import KnowledgeBase
from search.settings import Settings

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"

# Where one sentence of an English abstract ends and the next begins: the benchmarks that cut
# BEIR abstracts into chunk-sized passages cut them at the same places.
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")


def scratch_knowledge_base(data_dir: Path | None = None, **overrides: Any) -> KnowledgeBase:
    """A knowledge base on ``data_dir`` (a new temporary folder when None), with settings
    ``overrides``."""
    settings = Settings(data_dir=data_dir or Path(tempfile.mkdtemp(prefix="bridge-bench-")),
                        **overrides)
    return KnowledgeBase(settings, encoder(settings))


def encoder(settings: Settings) -> Encoder:
    return configured_encoder(settings)


def chunk_texts(kb: KnowledgeBase, folder: Path) -> list[str]:
    """The texts of the chunks an ingest of ``folder`` embeds, prepared (parsed, chunked)
    once in this process; files that fail to prepare are left out, as an ingest does."""
    from ingest.discovery import Root, discover
    from ingest.pipeline import Ingestor

    preparer = Ingestor(kb).preparer
    files, _ = discover([Root(folder)])
    texts: list[str] = []
    for file in files:
        try:
            texts.extend(chunk.text for chunk in preparer.prepare(file, "-")[1])
        except Exception:  # a broken file: reported by a real ingest, skipped here
            continue
    return texts


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def emit(result: dict[str, Any], json_out: Path | None) -> None:
    """Print a benchmark's figures as one JSON object, and write them to ``json_out``."""
    text = json.dumps(result, indent=2)
    print(text)
    if json_out:
        json_out.write_text(text + "\n", encoding="utf-8")


def index_counts(client: httpx.Client) -> dict[str, int]:
    """Documents and chunks the server holds, from its /metrics (its key needs admin)."""
    response = client.get("/metrics")
    response.raise_for_status()
    gauges = {sample.name: sample.value for family in text_string_to_metric_families(response.text)
              for sample in family.samples}
    return {"documents": int(gauges["bridge_index_documents"]),
            "chunks": int(gauges["bridge_index_chunks"])}


def log(message: str) -> None:
    """Progress on stderr, so that stdout carries only the figures."""
    print(message, file=sys.stderr, flush=True)


def load_average() -> list[float]:
    """The machine's 1, 5 and 15-minute load averages: other jobs may share its cores, so a
    benchmark records them beside its timings."""
    return [round(x, 2) for x in os.getloadavg()]


def new_workdir(parser: argparse.ArgumentParser, given: Path | None, prefix: str) -> Path:
    """An empty folder outside the repository (the data must never land inside it): ``given``,
    or a new temporary one named with ``prefix``."""
    if given is None:
        return Path(tempfile.mkdtemp(prefix=prefix))
    workdir = given.resolve()
    if workdir.is_relative_to(REPO):
        parser.error(f"--workdir {workdir} is inside the repository")
    if workdir.exists() and any(workdir.iterdir()):
        parser.error(f"--workdir {workdir} is not empty")
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir


# --- the sample corpus's queries ---------------------------------------------------------
def planted_findings() -> list[dict[str, Any]]:
    """The cross-office findings planted in corpus/ (``corpus/planted.yaml``)."""
    return yaml.safe_load((CORPUS / "planted.yaml").read_text(encoding="utf-8"))


def planted_queries() -> list[str]:
    """Both sides of each planted finding: the European office's language, then English."""
    return [q for f in planted_findings() for q in (f["query_local"], f["query_en"])]


def corpus_queries() -> list[str]:
    """The planted queries and the sample corpus's evaluation queries."""
    evaluation = yaml.safe_load((CORPUS / "eval_queries.yaml").read_text(encoding="utf-8"))
    return planted_queries() + [q["query"] for q in evaluation]


def limited(dataset: Dataset, queries: int | None, documents: int | None) -> Dataset:
    """The dataset cut down for a quicker run (unchanged when both limits are None).

    ``queries`` keeps the first judged queries. ``documents`` keeps every document those
    queries judge and fills up with the others in corpus order: the set gets easier (fewer
    distractors), so its figures compare engines or settings with each other, not with the
    full set's.
    """
    kept_queries = dict(islice(dataset.queries.items(), queries))
    qrels = {q: dataset.qrels[q] for q in kept_queries}
    corpus = dataset.corpus
    if documents is not None:
        judged = {doc_id for docs in qrels.values() for doc_id in docs}
        others = islice((d for d in corpus if d not in judged), max(0, documents - len(judged)))
        kept = judged | set(others)
        corpus = {doc_id: record for doc_id, record in corpus.items() if doc_id in kept}
    return replace(dataset, queries=kept_queries, qrels=qrels, corpus=corpus)
