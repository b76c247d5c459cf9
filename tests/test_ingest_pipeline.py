"""The ingest pipeline over a real folder: bad files are reported, never fatal."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.pipeline import Ingestor
from search.knowledge_base import KnowledgeBase
from tests.filemakers import Heading, make_docx, make_pdf

GOOD_NOTE = """---
title: Visit to the Lyon heart-failure clinic
date: 2024-05-02
---
# Findings
Nurses call patients within a day after a weight-gain alert.

# Next steps
Share the protocol with Boston.
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "drop" / "paris" / "notes"
    root.mkdir(parents=True)
    (root / "visit.md").write_text(GOOD_NOTE, encoding="utf-8")
    make_docx(root / "report.docx", [Heading("Summary", 1), "Telemonitoring works in Lyon."])
    make_pdf(root / "deck.pdf", ["Slide one: remote monitoring", "Slide two: funding"])
    (root / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog")
    make_pdf(root / "locked.pdf", ["secret"], password="s3cret")
    make_pdf(root / "blank.pdf", [""])
    (root / "empty.txt").write_bytes(b"")
    truncated = root / "truncated.docx"
    make_docx(truncated, ["Some text that will be cut."])
    truncated.write_bytes(truncated.read_bytes()[:300])
    (root / "ignored.xyz").write_text("not a supported type")
    return tmp_path / "drop"


def test_bad_files_are_reported_with_reasons_and_the_rest_indexed(
        kb: KnowledgeBase, folder: Path) -> None:
    report = Ingestor(kb).run([folder])
    reasons = {Path(f.path).name: f.reason for f in report.failed}
    assert reasons == {
        "broken.pdf": reasons["broken.pdf"],
        "locked.pdf": "encrypted (needs a password)",
        "blank.pdf": "empty: no text, and OCR found none",
        "empty.txt": "empty: 0 bytes",
        "truncated.docx": reasons["truncated.docx"],
    }
    assert reasons["broken.pdf"].startswith("malformed PDF")
    assert reasons["truncated.docx"].startswith("malformed DOCX")
    assert sorted(Path(p).name for p in report.added) == ["deck.pdf", "report.docx", "visit.md"]
    assert report.chunks_indexed == kb.status()["chunks"] >= 5

    documents, total = kb.documents()
    assert total == 3
    note = next(d for d in documents if d.title == "Visit to the Lyon heart-failure clinic")
    assert (note.office, note.region, str(note.date)) == ("Paris", "EU", "2024-05-02")
    _, chunks = kb.document(note.id)
    assert [c.provenance.section for c in chunks] == ["Findings", "Next steps"]
    deck = next(d for d in documents if d.title == "Slide one: remote monitoring")  # its own words
    assert [c.provenance.page for c in kb.document(deck.id)[1]] == [1, 2]


def test_second_run_skips_unchanged_files_and_replaces_changed_ones(
        kb: KnowledgeBase, folder: Path) -> None:
    Ingestor(kb).run([folder])
    again = Ingestor(kb).run([folder])
    assert again.added == [] and again.unchanged == 3 and again.chunks_embedded == 0

    note = folder / "paris" / "notes" / "visit.md"
    note.write_text(GOOD_NOTE.replace("within a day", "within two hours"), encoding="utf-8")
    third = Ingestor(kb).run([folder])
    assert [Path(p).name for p in third.updated] == ["visit.md"]
    texts = [h.text for h in kb.search("how fast do nurses call after an alert", k=20)]
    assert any("within two hours" in t for t in texts)
    assert not any("within a day" in t for t in texts)


def test_missing_path_is_reported(kb: KnowledgeBase, tmp_path: Path) -> None:
    report = Ingestor(kb).run([tmp_path / "nope"])
    assert [(Path(f.path).name, f.reason) for f in report.failed] == [
        ("nope", "no such file or folder")]


def test_a_file_named_twice_is_ingested_once(kb: KnowledgeBase, folder: Path) -> None:
    note = folder / "paris" / "notes" / "visit.md"
    report = Ingestor(kb).run([note, folder / "paris" / ".." / "paris" / "notes" / "visit.md"])
    assert report.added == [str(note.resolve())] and kb.status()["documents"] == 1
