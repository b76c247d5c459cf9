"""Shared set-up for the benchmarks: settings on a scratch data directory, the model."""

from __future__ import annotations

import tempfile
from pathlib import Path

from search.embedding import Encoder, load_encoder
from search.knowledge_base import KnowledgeBase
from search.settings import Settings

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"


def scratch_knowledge_base(data_dir: Path | None = None) -> KnowledgeBase:
    """A knowledge base on ``data_dir`` (a new temporary folder when None)."""
    settings = Settings(data_dir=data_dir or Path(tempfile.mkdtemp(prefix="bridge-bench-")))
    return KnowledgeBase(settings, encoder(settings))


def encoder(settings: Settings) -> Encoder:
    return load_encoder(settings.model, settings.cache_dir, settings.embed_batch_size)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]
