"""Plain helpers several test modules share (fixtures live in conftest.py).

They sit here, not in a test module, so that no test module imports another: importing a
test module collects its tests a second time under another name and ties one module's
edits to another's.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from search.knowledge_base import KnowledgeBase
from search.records import DocType, DocumentMeta

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"  # the sample corpus the end-to-end tests ingest

# Twelve conditions, one note each: enough files for several publishes in one run.
TOPICS = ["heart failure", "COPD", "diabetes", "sleep apnoea", "oncology", "asthma",
          "hypertension", "stroke rehabilitation", "kidney disease", "depression",
          "pregnancy", "arthritis"]


def write_note(path: Path, topic: str, version: int = 1) -> None:
    """A short Markdown programme note on ``topic``; ``version`` changes its text."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"# {topic.title()} programme\n\n## Finding\n\nRemote follow-up for {topic} patients "
        f"reduced emergency visits (version {version}).\n\n## Method\n\nSix months, one clinic, "
        f"{len(topic) * 7} {topic} patients.\n\n## Next step\n\nShare the {topic} protocol "
        f"with the other offices.\n", encoding="utf-8")


def meta(i: int, office: str, language: str, doc_type: DocType, date: str,
         content: str = "") -> DocumentMeta:
    """Metadata of test document ``i``, stored under ``/docs/{i}.txt``; ``content`` makes
    its hash, so that different texts are different documents."""
    return DocumentMeta(title=f"{office} doc", office=office, region="US" if office == "Boston"
                        else "EU", doc_type=doc_type, language=language,
                        date=dt.date.fromisoformat(date), source_path=f"/docs/{i}.txt",
                        content_hash=f"{i}:{content}")


def index_is_consistent(kb: KnowledgeBase, finished: bool = True) -> None:
    """The indexes hold exactly the stored chunks, each with its cached vector (and, in the
    keyword index, one document per chunk).

    After a run that finished, the cache holds nothing else; a killed run may
    leave vectors the next run will use.
    """
    with kb.database.connect() as db:
        chunk_ids = {r[0] for r in db.execute("SELECT id FROM chunks")}
        cached = db.execute("SELECT count(*) FROM embeddings").fetchone()[0]
        texts = db.execute("SELECT count(DISTINCT text_hash) FROM chunks").fetchone()[0]
        missing = db.execute("SELECT count(*) FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM"
                             " embeddings e WHERE e.text_hash = c.text_hash)").fetchone()[0]
    assert missing == 0
    generation = kb.generation()
    assert len(generation.index) == len(generation.keywords) == len(chunk_ids)
    if chunk_ids:
        probe = kb.encoder.encode_queries(["anything"])
        _, found = generation.index.search(probe, len(chunk_ids) + 5)
        assert {int(i) for i in found[0] if i >= 0} == chunk_ids
    assert cached == texts if finished else cached >= texts


def copy_data_dir(source: Path, target: Path) -> Path:
    """Copy a data directory nobody is writing to: a test that changes the copy leaves the
    original to the tests that only read it, and copying costs far less than ingesting.

    SQLite's shared-memory index is left behind (SQLite rebuilds it from the write-ahead
    log, which is copied), and so is the writer's lock file.
    """
    shutil.copytree(source, target, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("*-shm", "write.lock"))
    return target
