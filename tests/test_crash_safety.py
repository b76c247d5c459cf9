"""kill -9 a real re-index at several points: the live generation stays complete and
served, and the next run ends where a clean build of the same folder ends."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from api.local_server import BRIDGE
from ingest.pipeline import Ingestor
from search.knowledge_base import KnowledgeBase
from tests.helpers import TOPICS, index_is_consistent, write_note


def build_v1(root: Path) -> None:
    for i, topic in enumerate(TOPICS):
        write_note(root / "boston" / "notes" / f"{i:02d}.md", topic)


def change_to_v2(root: Path) -> None:
    """Deletes, edits, moves, copies and additions, all in one re-index."""
    notes = root / "boston" / "notes"
    for i in (0, 1, 2):
        (notes / f"{i:02d}.md").unlink()
    for i in (3, 4, 5):
        write_note(notes / f"{i:02d}.md", TOPICS[i], version=2)
    (root / "paris" / "notes").mkdir(parents=True)
    for i in (6, 7):
        (notes / f"{i:02d}.md").rename(root / "paris" / "notes" / f"{i:02d}.md")
    shutil.copy(notes / "08.md", notes / "08-copy.md")
    for i, topic in enumerate(["malaria", "glaucoma", "psoriasis", "migraine", "gout"]):
        write_note(root / "madrid" / "notes" / f"new-{i}.md", topic)


def snapshot(kb: KnowledgeBase) -> dict[str, tuple]:
    """Everything a clean build determines, keyed by content (ids differ between builds)."""
    with kb.database.connect() as db:
        duplicates = db.execute("SELECT count(*) FROM (SELECT 1 FROM chunks GROUP BY"
                                " document_id, ordinal HAVING count(*) > 1)").fetchone()[0]
        assert duplicates == 0
        documents = db.execute("SELECT id, content_hash, title, office, n_chunks FROM documents")
        state = {}
        for doc_id, digest, title, office, n_chunks in documents.fetchall():
            paths = sorted(r[0] for r in db.execute(
                "SELECT source_path FROM paths WHERE document_id = ?", (doc_id,)))
            chunks = db.execute("SELECT ordinal, text, language, provenance FROM chunks"
                                " WHERE document_id = ? ORDER BY ordinal", (doc_id,)).fetchall()
            assert len(chunks) == n_chunks
            state[digest] = (title, office, tuple(paths), tuple(tuple(c) for c in chunks))
    return state


def generation_of(data_dir: Path) -> int:
    try:
        db = sqlite3.connect(data_dir / "bridge.sqlite3", timeout=30)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        finally:
            db.close()
    except sqlite3.OperationalError:  # not created yet
        return 0
    return int(row[0]) if row else 0


def kill_after_publishes(root: Path, env: dict[str, str], data_dir: Path, publishes: int) -> bool:
    """Start `bridge ingest ROOT`, kill -9 it once ``publishes`` more generations are out.

    Returns False when the run finished first.
    """
    start = generation_of(data_dir)
    process = subprocess.Popen([*BRIDGE, "ingest", str(root)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while generation_of(data_dir) < start + publishes:
        if process.poll() is not None:
            return False
        assert time.monotonic() < deadline, "the re-index made no progress"
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    return True


@dataclass(frozen=True)
class Ingested:
    root: Path  # the share, as ingested
    kb: KnowledgeBase


@pytest.fixture(scope="module")
def ingested_v1(tmp_path_factory: pytest.TempPathFactory, settings_for, encoder
                ) -> Iterator[Ingested]:
    """The v1 share, ingested once for the module; its tests work on copies (``copy_v1``).

    The knowledge base names files by their absolute paths, so a test's share stands
    where this one was ingested: the fixture keeps a pristine copy to put back.
    """
    root = tmp_path_factory.mktemp("crash") / "share"
    build_v1(root)
    kb = KnowledgeBase(settings_for("v1"), encoder)
    Ingestor(kb).run([root])
    pristine = shutil.copytree(root, root.with_name("pristine"))
    yield Ingested(root, kb)
    shutil.rmtree(pristine)


@pytest.fixture
def copy_v1(ingested_v1: Ingested, copy_kb) -> Callable[..., Ingested]:
    """The ingested v1 share and knowledge base, copied for the test to change; keyword
    arguments override the copy's settings.

    The share is copied with each file's size and modification time, so the next run
    finds it as it was ingested rather than touched.
    """

    def take(**overrides: object) -> Ingested:
        root = ingested_v1.root
        shutil.rmtree(root)
        shutil.copytree(root.with_name("pristine"), root)
        return Ingested(root, copy_kb(ingested_v1.kb, "v1-copy", **overrides))

    return take


def test_killed_reindex_runs_end_like_a_clean_build(copy_v1, settings_for, encoder) -> None:
    v1 = copy_v1(commit_every_chunks=2, embed_batch_size=1)
    root, settings = v1.root, v1.kb.settings
    change_to_v2(root)

    env = {**os.environ, "BRIDGE_DATA_DIR": str(settings.data_dir),
           "BRIDGE_COMMIT_EVERY_CHUNKS": "2", "BRIDGE_EMBED_BATCH_SIZE": "1"}
    kills = [kill_after_publishes(root, env, settings.data_dir, n) for n in (1, 2, 3)]
    assert any(kills), "every run finished before it could be killed"
    # after each kill the published generation is complete and served
    survivor = KnowledgeBase(settings, encoder)
    index_is_consistent(survivor, finished=False)
    assert survivor.search("remote follow-up", k=3)
    # a killed run's row is left as it died (a kill may also land just after a run
    # recorded its end); the next run marks every row left running as interrupted
    before = [r.status for r in survivor.runs()]
    assert before[0] in (("running", "finished") if kills[-1] else ("finished",))

    final = Ingestor(survivor).run([root])
    after = [r.status for r in survivor.runs()]
    assert after[0] == "finished"
    assert after.count("interrupted") == before.count("interrupted") + before.count("running")
    assert final.failed == []
    index_is_consistent(survivor)

    clean = KnowledgeBase(settings_for("clean"), encoder)
    Ingestor(clean).run([root])
    assert snapshot(survivor) == snapshot(clean)
    assert survivor.status()["chunks"] == clean.status()["chunks"]


def test_a_run_killed_before_publishing_leaves_the_index_as_it_was(copy_v1) -> None:
    v1 = copy_v1()
    root, kb = v1.root, v1.kb
    settings = kb.settings
    before = snapshot(kb)
    change_to_v2(root)
    env = {**os.environ, "BRIDGE_DATA_DIR": str(settings.data_dir)}
    process = subprocess.Popen([*BRIDGE, "ingest", str(root)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not kb.runs() or kb.runs()[0].status != "running":  # the run has started
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert snapshot(kb) == before
    index_is_consistent(kb, finished=False)
