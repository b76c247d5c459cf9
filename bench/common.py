"""Shared set-up for the benchmarks: settings on a scratch data directory, the model."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from search.embedding import Encoder, configured_encoder
from search.knowledge_base import KnowledgeBase
from search.settings import Settings

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"


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
