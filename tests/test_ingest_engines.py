"""The engines agree: the same folder ingested in one process, through the pool of preparing
processes, and on a local Ray instance gives the same documents, chunks and vectors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from ingest.engines import LocalEngine, engine_for
from ingest.engines.local import POOL_MIN_JOBS
from ingest.pipeline import Ingestor
from search.embedding import Encoder
from search.knowledge_base import KnowledgeBase
from search.records import RunReport
from tests.filemakers import make_pdf

TOPICS = [
    ("Remote monitoring", "Nurses call patients within a day after a weight-gain alert."),
    ("Télésurveillance", "Les infirmières rappellent les patients dans la journée après une "
                         "alerte de prise de poids."),
    ("Fernüberwachung", "Pflegekräfte rufen Patienten innerhalb eines Tages nach einem "
                        "Gewichtsalarm an."),
    ("Insulin pumps", "The closed-loop pump cut night-time hypoglycaemia by a third."),
    ("Pompes à insuline", "La pompe en boucle fermée a réduit d'un tiers les hypoglycémies "
                          "nocturnes."),
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough files for the pool, a copy of one of them, and two files that fail."""
    root = tmp_path_factory.mktemp("engines") / "boston"
    root.mkdir()
    for i in range(POOL_MIN_JOBS + 2):
        title, finding = TOPICS[i % len(TOPICS)]
        (root / f"note-{i:02d}.md").write_text(
            f"# {title} {i}\n\n{finding}\n\n## Next step {i}\n\n{finding} (site {i})\n",
            encoding="utf-8")
    (root / "copy-of-note-03.md").write_bytes((root / "note-03.md").read_bytes())
    make_pdf(root / "deck.pdf", ["Slide one: remote monitoring", "Slide two: funding"])
    (root / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog")
    (root / "empty.txt").write_bytes(b"")
    return root


def _ingest(settings_for, encoder: Encoder, folder: Path, name: str,
            **settings: object) -> tuple[KnowledgeBase, RunReport]:
    kb = KnowledgeBase(settings_for(name, **settings), encoder)
    return kb, Ingestor(kb).run([folder])


def _contents(kb: KnowledgeBase) -> dict[str, list[tuple]]:
    """Per path: each chunk's order, text, language, provenance, tokens and vector."""
    db = sqlite3.connect(kb.settings.db_path)
    rows = db.execute(
        "SELECT p.source_path, c.ordinal, c.text, c.language, c.provenance, c.n_tokens, "
        "e.vector FROM paths p JOIN chunks c ON c.document_id = p.document_id "
        "JOIN embeddings e ON e.text_hash = c.text_hash ORDER BY p.source_path, c.ordinal"
    ).fetchall()
    db.close()
    contents: dict[str, list[tuple]] = {}
    for path, *chunk, vector in rows:
        contents.setdefault(path, []).append((*chunk, np.frombuffer(vector, np.float32)))
    return contents


def _assert_same(left: KnowledgeBase, right: KnowledgeBase, atol: float) -> None:
    mine, theirs = _contents(left), _contents(right)
    assert sorted(mine) == sorted(theirs)
    for path, chunks in mine.items():
        assert [c[:-1] for c in chunks] == [c[:-1] for c in theirs[path]], path
        for a, b in zip(chunks, theirs[path], strict=True):
            assert float(a[-1] @ b[-1]) > 1 - atol, path
    assert left.status()["vectors"] == right.status()["vectors"] == left.status()["chunks"]


def _summary(report: RunReport) -> tuple:
    return (sorted(map(Path, report.added)), sorted(map(Path, report.duplicates)),
            sorted((Path(f.path).name, f.reason) for f in report.failed),
            report.chunks_indexed)


@pytest.fixture(scope="module")
def in_process(settings_for, encoder: Encoder, folder: Path) -> tuple[KnowledgeBase, RunReport]:
    return _ingest(settings_for, encoder, folder, "in-process", ingest_workers=0)


def test_the_pool_of_preparing_processes_changes_nothing(settings_for, encoder: Encoder,
                                                          folder: Path, in_process) -> None:
    kb, report = _ingest(settings_for, encoder, folder, "pool", ingest_workers=2)
    engine = Ingestor(kb).engine
    assert isinstance(engine, LocalEngine) and engine.workers == 2
    assert _summary(report) == _summary(in_process[1])
    # files are read in name order: the copy comes first, and note-03.md links to it
    assert [Path(p).name for p in report.duplicates] == ["note-03.md"]
    assert {Path(f.path).name for f in report.failed} == {"broken.pdf", "empty.txt"}
    _assert_same(kb, in_process[0], atol=1e-6)
    again = Ingestor(kb).run([folder])
    assert again.unchanged == len(report.added) + len(report.duplicates)
    assert again.chunks_embedded == 0


def test_a_local_ray_instance_ingests_like_the_local_engine(settings_for, encoder: Encoder,
                                                             folder: Path, in_process) -> None:
    kb = KnowledgeBase(settings_for("ray"), encoder)
    report = Ingestor(kb, engine="ray").run([folder])
    assert type(engine_for(kb, Ingestor(kb).spec, "ray")).__name__ == "RayEngine"
    assert _summary(report) == _summary(in_process[1])
    assert report.chunks_embedded == in_process[1].chunks_embedded > 0
    _assert_same(kb, in_process[0], atol=1e-4)
    hits = kb.search("who calls the patient after a weight alarm?", k=3)
    assert hits[0].document.title.startswith(("Remote monitoring", "Télésurveillance",
                                              "Fernüberwachung"))
