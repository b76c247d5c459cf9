"""Shared fixtures: the real model (loaded once), settings on temporary data directories.

Nothing here is mocked: the tests use the real converted multilingual-e5-small,
real SQLite and FAISS files, and (in the end-to-end tests) a real uvicorn server.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.local_server import BRIDGE, bridge_server
from search.embedding import Encoder, configured_encoder
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
    return configured_encoder(Settings())


@pytest.fixture
def kb(settings_for, encoder: Encoder) -> KnowledgeBase:
    """An empty knowledge base on its own data directory."""
    return KnowledgeBase(settings_for("kb"), encoder)


@pytest.fixture(scope="session")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of the end-to-end runs: a data directory of their own."""
    return {**os.environ, "BRIDGE_DATA_DIR": str(tmp_path_factory.mktemp("e2e"))}


@pytest.fixture(scope="session")
def ingest_report(env: dict[str, str]) -> dict:
    """``bridge ingest corpus/`` as a user runs it, once for every end-to-end module."""
    run = subprocess.run([*BRIDGE, "ingest", str(CORPUS), "--json"], env=env,
                         capture_output=True, text=True, timeout=900, check=True)
    return json.loads(run.stdout)


@pytest.fixture(scope="session")
def server(env: dict[str, str], ingest_report: dict) -> Iterator[httpx.Client]:
    """A real ``bridge serve`` over the ingested corpus, on loopback."""
    with bridge_server(env) as client:
        yield client
