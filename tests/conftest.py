"""Shared fixtures: the real model (loaded once), settings on temporary data directories.

Nothing here is mocked: the tests use the real converted multilingual-e5-small,
real SQLite and FAISS files, and (in the end-to-end tests) a real uvicorn server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from search.embedding import Encoder, load_encoder
from search.knowledge_base import KnowledgeBase
from search.settings import Settings

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"


@pytest.fixture(scope="session")
def settings_for(tmp_path_factory: pytest.TempPathFactory):
    """Settings on a fresh data directory; the model cache stays the user's default."""

    def make(name: str = "data", **overrides: object) -> Settings:
        return Settings(data_dir=tmp_path_factory.mktemp(name), **overrides)

    return make


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    settings = Settings()
    return load_encoder(settings.model, settings.cache_dir, settings.embed_batch_size)


@pytest.fixture
def kb(settings_for, encoder: Encoder) -> KnowledgeBase:
    """An empty knowledge base on its own data directory."""
    return KnowledgeBase(settings_for("kb"), encoder)
