"""Shared fixtures: the real model (loaded once), settings on temporary data directories.

Nothing here is mocked: the tests use the real converted multilingual-e5-small,
real SQLite and FAISS files, and (in the end-to-end tests) a real uvicorn server.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api.local_server import BRIDGE, bridge_server
from search.embedding import Encoder, configured_encoder
from search.knowledge_base import KnowledgeBase
from search.settings import Settings
from tests.helpers import CORPUS, copy_data_dir


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
def copy_kb(settings_for, encoder: Encoder):
    """A knowledge base on a copy of another's data directory, with its own settings.

    A module writes its documents once, into a knowledge base its tests never touch, and
    each test takes a copy: no test sees another's changes, and a copy costs far less
    than embedding and publishing the same documents again.
    """

    def make(source: KnowledgeBase, name: str = "copy", **overrides: object) -> KnowledgeBase:
        settings = settings_for(name, **overrides)
        copy_data_dir(source.settings.data_dir, settings.data_dir)
        return KnowledgeBase(settings, encoder)

    return make


@dataclass(frozen=True)
class IngestedCorpus:
    data_dir: Path
    report: dict


@pytest.fixture(scope="session")
def ingested_corpus(tmp_path_factory: pytest.TempPathFactory) -> IngestedCorpus:
    """``bridge ingest corpus/`` as a user runs it, once for every end-to-end module (and
    once for every pytest-xdist worker: the first ingests, the others wait and share it).

    Nothing opens its data directory afterwards: the shared server serves a copy (``env``),
    and a test that changes what the corpus holds takes a copy of its own
    (``corpus_copy_env``), so no module's result depends on which ran first.
    """
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # this run's folder, one per worker below it
    data_dir, report = shared / "corpus-data", shared / "corpus-report.json"
    with open(shared / "corpus.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not report.exists():
            run = subprocess.run([*BRIDGE, "ingest", str(CORPUS), "--json"],
                                 env={**os.environ, "BRIDGE_DATA_DIR": str(data_dir)},
                                 capture_output=True, text=True, timeout=900, check=True)
            report.write_text(run.stdout)
    return IngestedCorpus(data_dir, json.loads(report.read_text()))


@pytest.fixture(scope="session")
def ingest_report(ingested_corpus: IngestedCorpus) -> dict:
    """What ``bridge ingest corpus/`` reported."""
    return ingested_corpus.report


@pytest.fixture(scope="session")
def env(ingested_corpus: IngestedCorpus,
        tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of the shared server and of the CLI runs beside it: the ingested
    corpus, copied. Its tests only read it (API keys aside)."""
    data_dir = copy_data_dir(ingested_corpus.data_dir, tmp_path_factory.mktemp("e2e"))
    return {**os.environ, "BRIDGE_DATA_DIR": str(data_dir)}


@pytest.fixture
def corpus_copy_env(ingested_corpus: IngestedCorpus, tmp_path: Path) -> dict[str, str]:
    """An environment on a private copy of the ingested corpus, for a test that changes
    what it holds (a re-index records a run and re-reads every file)."""
    data_dir = copy_data_dir(ingested_corpus.data_dir, tmp_path / "data")
    return {**os.environ, "BRIDGE_DATA_DIR": str(data_dir)}


@pytest.fixture(scope="session")
def server(env: dict[str, str]) -> Iterator[httpx.Client]:
    """A real ``bridge serve`` over the ingested corpus, on loopback."""
    with bridge_server(env) as client:
        yield client


# The modules that take longest (a minute of CPU or so each: servers, subprocess ingests,
# kills), started first so that the two pytest-xdist workers finish together instead of one
# running a long module alone at the end.
LONGEST_FIRST = ("test_upload_jobs", "test_model_conversion", "test_watch_delivery",
                 "test_crash_safety",
                 "test_real_world_files", "test_ingest_engines", "test_uploads",
                 "test_access", "test_parser_fuzz", "test_admin_api", "test_evaluation",
                 "test_observability", "test_fast_mode", "test_web_page")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: n for n, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.module.__name__.rsplit(".", 1)[-1],
                                         len(rank)))
