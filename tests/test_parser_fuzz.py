"""Fuzzing every parser: damaged copies of real containers are indexed or fail with a reason.

Seeded random truncations, byte flips and splices of real files (PDF, PPTX, DOCX, WebVTT,
SRT, transcripts, Markdown) and random bytes under each suffix: whatever a parser, the
cleaning step, language detection, chunking or the encoder meets, each file ends indexed
or failed with a reason in words, and the run ends.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ingest.discovery import FoundFile, Root
from ingest.pipeline import Ingestor
from ingest.preparing import Failed, Prepared, PrepareJob, PrepareSpec
from search.knowledge_base import KnowledgeBase
from search.records import FileStat
from search.settings import Settings
from tests.filemakers import (
    ChartSpec,
    Heading,
    SlideSpec,
    Table,
    lone_surrogate_pdf,
    make_docx,
    make_pdf,
    make_pptx,
)

SEED = 20261205
MUTANTS_PER_FILE = 6
LIBRARY_CLASS_NAMES = ("Error:", "Exception:", "PdfRead", "KeyError", "AttributeError")


def originals(folder: Path) -> list[Path]:
    """One real file per format, each with the structures its parser walks."""
    folder.mkdir(parents=True)
    text = "Remote monitoring cut readmissions by a quarter in the Lyon pilot."
    vtt = ("WEBVTT - Pilot review\n\n00:00:01.000 --> 00:00:04.000\n<v Ana Ruiz>¿Cómo empezó?\n\n"
           "00:00:04.500 --> 00:00:09.000\n<v Luis Gil>Con cuarenta pacientes en Teruel.\n")
    srt = "1\n00:00:01,000 --> 00:00:04,000\nAna: Bonjour\n\n2\n00:00:04,500 --> 00:00:08,000\n" \
          "Luc: Nous suivons 420 patients.\n"
    (folder / "talk.vtt").write_text(vtt, encoding="utf-8")
    (folder / "talk.srt").write_text(srt, encoding="utf-8")
    (folder / "interview.txt").write_text("Q: Why?\nA: " + text + "\nQ: And?\nA: More.\n",
                                          encoding="utf-8")
    (folder / "note.md").write_text(f"---\ntitle: Note\ndate: 2024-01-02\n---\n# A\n{text}\n",
                                    encoding="utf-8")
    return [
        make_pdf(folder / "report.pdf", [text, "• second page", "third page"], title="Report"),
        lone_surrogate_pdf(folder / "fonts.pdf", "Weight ~ alerts in Lyon and in Nantes"),
        make_pptx(folder / "deck.pptx", [
            SlideSpec(title="Deck", body=[text], table=[["a", "b"], ["1", "2"]], notes="n"),
            SlideSpec(chart=ChartSpec("Peach", ["Jan", "Feb"], {"Votes": [1, 2]}))]),
        make_docx(folder / "report.docx", [Heading("Summary"), text, Table([["a", "b"]])],
                  header="Header", footer="Footer"),
        *(folder / name for name in ("talk.vtt", "talk.srt", "interview.txt", "note.md")),
    ]


def mutants(original: Path, out: Path, rng: random.Random) -> list[Path]:
    """Truncations, byte flips and a splice of ``original``, and random bytes."""
    data = original.read_bytes()
    made = []
    for n in range(MUTANTS_PER_FILE):
        blob = bytearray(data)
        if n % 3 == 0:
            blob = blob[:rng.randrange(1, len(blob))]
        elif n % 3 == 1:
            for _ in range(rng.randrange(1, 40)):
                blob[rng.randrange(len(blob))] = rng.randrange(256)
        else:
            at = rng.randrange(len(blob))
            blob[at:at] = rng.randbytes(rng.randrange(1, 2000))
        made.append(out / f"{original.stem}-{n}{original.suffix}")
        made[-1].write_bytes(bytes(blob))
    noise = out / f"{original.stem}-noise{original.suffix}"
    noise.write_bytes(rng.randbytes(rng.randrange(1, 5000)))
    return [*made, noise]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    rng = random.Random(SEED)
    out = root / "mutants"
    out.mkdir()
    for original in originals(root / "originals"):
        mutants(original, out, rng)
    return out


def test_every_mutant_is_prepared_or_fails_with_a_reason_in_words(fuzzed: Path) -> None:
    preparer = PrepareSpec.from_settings(Settings(), None).preparer()
    root = Root(fuzzed)
    outcomes = {}
    for path in sorted(fuzzed.iterdir()):
        job = PrepareJob(FoundFile(path, root), "-", FileStat(size=0, mtime_ns=0), False)
        outcomes[path.name] = preparer.run(job)  # raises nothing, whatever the file
    failed = [o.failure for o in outcomes.values() if isinstance(o, Failed)]
    prepared = [o for o in outcomes.values() if isinstance(o, Prepared)]
    assert len(failed) + len(prepared) == len(outcomes) == 8 * (MUTANTS_PER_FILE + 1)
    assert failed and prepared  # the fuzz reaches both ends
    for failure in failed:
        assert failure.kind and failure.reason.startswith(failure.kind)
        assert not any(name in failure.reason for name in LIBRARY_CLASS_NAMES), failure.reason
    for outcome in prepared:
        assert outcome.chunks and outcome.meta.title


def test_an_ingest_of_the_mutants_ends_with_each_file_indexed_or_failed(
        kb: KnowledgeBase, fuzzed: Path) -> None:
    report = Ingestor(kb).run([fuzzed])
    settled = {Path(p).name for p in report.added + report.duplicates}
    failed = {Path(f.path).name for f in report.failed}
    assert settled | failed == {p.name for p in fuzzed.iterdir()}
    assert not settled & failed
    assert kb.status()["documents"] == len(report.added)
