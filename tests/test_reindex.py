"""Incremental runs: added, changed, moved, copied and deleted files; the embedding
cache; sources files; the single-run lock; run reports; schedules."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from api.reindex import add_reindex_job, parse_every, reindex, schedule_trigger
from ingest.discovery import Root
from ingest.pipeline import Ingestor
from ingest.sources import SourcesError, load_sources
from search.knowledge_base import KnowledgeBase
from search.runs import start_run
from search.writer import WriterBusyError
from tests.helpers import index_is_consistent

TOPICS = {
    "heart": ("Heart failure", "Weight-gain alerts cut readmissions by a third in Boston."),
    "copd": ("COPD at home", "Home spirometry lets nurses call before an exacerbation."),
    "diabetes": ("Diabetes coaching", "Text-message coaching lowered HbA1c by half a point."),
    "sleep": ("Sleep apnoea", "Patients kept their masks on longer with nightly reminders."),
    "oncology": ("Oncology follow-up", "Symptom diaries caught chemotherapy side effects early."),
}


def note(topic: str, extra: str = "") -> str:
    title, finding = TOPICS[topic]
    return (f"# {title}\n\n## Finding\n\n{finding}\n\n## Method\n\n"
            f"A pilot in one clinic over six months, {topic} patients only.\n{extra}")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "share" / "boston" / "notes"
    root.mkdir(parents=True)
    for topic in TOPICS:
        (root / f"{topic}.md").write_text(note(topic), encoding="utf-8")
    return tmp_path / "share"


def test_second_run_embeds_nothing_and_an_edit_embeds_only_its_new_chunks(
        kb: KnowledgeBase, folder: Path) -> None:
    first = Ingestor(kb).run([folder])
    assert len(first.added) == 5 and first.chunks_embedded == first.chunks_indexed > 0

    again = Ingestor(kb).run([folder])
    assert (again.unchanged, again.chunks_embedded, again.added, again.updated) == (5, 0, [], [])

    heart = folder / "boston" / "notes" / "heart.md"
    os.utime(heart, ns=(time.time_ns(), time.time_ns() + 10**9))  # touched, same content
    assert Ingestor(kb).run([folder]).unchanged == 5

    heart.write_text(note("heart", "\n## Cost\n\nEach avoided stay saved 9,000 dollars.\n"),
                     encoding="utf-8")
    edited = Ingestor(kb).run([folder])
    assert edited.updated == [str(heart.resolve())] and edited.unchanged == 4
    _, chunks = kb.document(kb.search("cost of an avoided stay", k=1)[0].document.id)
    assert edited.chunks_indexed == len(chunks)
    assert 0 < edited.chunks_embedded < len(chunks)  # the unchanged sections come from the cache
    assert any("9,000 dollars" in h.text for h in kb.search("savings per stay avoided", k=3))
    index_is_consistent(kb)


def test_deleted_files_leave_every_index(kb: KnowledgeBase, folder: Path) -> None:
    Ingestor(kb).run([folder])
    copd = folder / "boston" / "notes" / "copd.md"
    copd.unlink()
    report = Ingestor(kb).run([folder])
    assert report.deleted == [str(copd.resolve())] and report.unchanged == 4
    assert kb.status()["documents"] == 4
    assert all("spirometry" not in h.text for h in kb.search("home spirometry", k=20))
    index_is_consistent(kb)

    shutil.rmtree(folder / "boston")
    assert len(Ingestor(kb).run([folder]).deleted) == 4
    assert kb.status()["chunks"] == 0 and kb.search("heart failure") == []
    index_is_consistent(kb)


def test_a_missing_root_deletes_nothing(kb: KnowledgeBase, folder: Path, tmp_path: Path) -> None:
    Ingestor(kb).run([folder])
    moved_away = tmp_path / "unmounted"
    folder.rename(moved_away)
    report = Ingestor(kb).run([folder])
    assert report.deleted == [] and report.failed[0].reason == "no such file or folder"
    assert kb.status()["documents"] == 5


def test_a_moved_file_keeps_its_vectors_and_takes_its_new_folder_metadata(
        kb: KnowledgeBase, folder: Path) -> None:
    Ingestor(kb).run([folder])
    old = folder / "boston" / "notes" / "sleep.md"
    hit = kb.search("mask adherence with reminders", k=1)[0]
    assert hit.document.office == "Boston"
    new = folder / "paris" / "notes" / "sleep.md"
    new.parent.mkdir(parents=True)
    old.rename(new)

    report = Ingestor(kb).run([folder])
    assert [(m.from_path, m.to_path) for m in report.moved] == [
        (str(old.resolve()), str(new.resolve()))]
    assert report.deleted == [] and report.chunks_embedded == 0 and report.chunks_indexed == 0
    moved = kb.search("mask adherence with reminders", k=1)[0]
    assert moved.chunk_id == hit.chunk_id  # same chunk, same vector
    assert (moved.document.office, moved.document.source_path) == ("Paris", str(new.resolve()))
    assert kb.document(moved.document.id)[0].paths == [str(new.resolve())]
    assert kb.status()["paths"] == 5
    index_is_consistent(kb)


def test_identical_content_is_stored_once_under_both_paths(
        kb: KnowledgeBase, folder: Path) -> None:
    Ingestor(kb).run([folder])
    original = folder / "boston" / "notes" / "diabetes.md"
    copy = folder / "boston" / "notes" / "diabetes-copy.md"
    shutil.copy(original, copy)
    report = Ingestor(kb).run([folder])
    assert report.duplicates == [str(copy.resolve())] and report.chunks_embedded == 0
    status = kb.status()
    assert (status["documents"], status["paths"]) == (5, 6)
    document, _ = kb.document(kb.search("HbA1c coaching", k=1)[0].document.id)
    assert document.paths == sorted([str(original.resolve()), str(copy.resolve())])

    original.unlink()  # one path gone: the content stays under the other
    report = Ingestor(kb).run([folder])
    assert report.deleted == [str(original.resolve())]
    document, _ = kb.document(kb.search("HbA1c coaching", k=1)[0].document.id)
    assert (document.paths, document.source_path) == ([str(copy.resolve())],) * 2 or \
        document.paths == [str(copy.resolve())]
    index_is_consistent(kb)


def test_sources_file_yaml_and_toml(kb: KnowledgeBase, folder: Path, tmp_path: Path) -> None:
    (folder / "boston" / "notes" / "draft-ideas.md").write_text(note("heart", "draft"), "utf-8")
    yaml_file = tmp_path / "sources.yaml"
    yaml_file.write_text(
        "sources:\n"
        "  - name: boston\n    folder: share/boston\n    office: Boston HQ\n    team: Cardio\n"
        "    language: en\n    include: ['*.md']\n    exclude: ['*/draft-*']\n",
        encoding="utf-8")
    toml_file = tmp_path / "sources.toml"
    toml_file.write_text(
        '[[sources]]\nname = "boston"\nfolder = "share/boston"\noffice = "Boston HQ"\n'
        'team = "Cardio"\nexclude = ["*/draft-*"]\n', encoding="utf-8")
    assert load_sources(yaml_file)[0].path == load_sources(toml_file)[0].path == \
        folder / "boston"

    report = reindex(kb, load_sources(yaml_file))
    assert len(report.added) == 5  # the draft is excluded
    documents, _ = kb.documents()
    # the source's office outranks the folder convention; the team comes from the source
    assert {(d.office, d.team) for d in documents} == {("Boston HQ", "Cardio")}
    run = kb.runs(1)[0]
    assert (run.kind, run.trigger, run.status) == ("reindex", "cli", "finished")
    assert run.report == report and run.files_done == run.files_total == 5


@pytest.mark.parametrize(("content", "message"), [
    ("sources: []\n", "sources"),
    ("sources:\n  - folder: x\n", "name"),
    ("sources:\n  - {name: a, folder: x}\n  - {name: a, folder: y}\n", "repeated: a"),
    ("sources:\n  - {name: a, folder: x, colour: red}\n", "colour"),
    ("sources: [unclosed\n", "not valid"),
])
def test_bad_sources_files_say_what_is_wrong(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SourcesError, match=message) as error:
        load_sources(path)
    assert str(path) in str(error.value)
    with pytest.raises(SourcesError, match="cannot read"):
        load_sources(tmp_path / "absent.yaml")


def test_one_run_at_a_time_and_a_dead_holder_is_taken_over(
        kb: KnowledgeBase, folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    with kb.writer(), pytest.raises(WriterBusyError, match=r"already running since ") as busy:
        Ingestor(kb).run([folder])
    assert busy.value.pid == os.getpid() and "pid" not in str(busy.value)  # the CLI says it
    assert kb.runs() == []  # the refused run left no record

    # a run killed by kill -9: its lock file still names it, its row still says running
    with kb.database.connect() as db:
        start_run(db, "reindex", "schedule")
    (kb.settings.data_dir / "write.lock").write_text(
        json.dumps({"pid": 999_999_999, "since": "2026-01-01T02:00:00+00:00"}))
    report = Ingestor(kb).run([folder])
    assert len(report.added) == 5
    assert "took over the write lock left by pid 999999999" in caplog.text
    assert [r.status for r in kb.runs()] == ["finished", "interrupted"]


def test_a_run_that_fails_is_recorded_as_failed(kb: KnowledgeBase, folder: Path) -> None:
    def explode(files):
        raise RuntimeError("disk on fire")
        yield from files

    with pytest.raises(RuntimeError):
        Ingestor(kb).run([folder], progress=explode)
    run = kb.runs(1)[0]
    assert (run.status, run.error, run.report) == ("failed", "RuntimeError: disk on fire", None)


def test_schedule_expressions() -> None:
    assert parse_every("30m").total_seconds() == 1800
    assert parse_every("1h30m").total_seconds() == 5400
    assert parse_every(" 2 h ").total_seconds() == 7200
    for bad in ("", "30", "m30", "30 minutes", "0s", "5x"):
        with pytest.raises(ValueError):
            parse_every(bad)
    assert "cron" in str(schedule_trigger(None, "0 2 * * *"))
    for every, cron in ((None, None), ("1m", "* * * * *"), (None, "61 * * * *")):
        with pytest.raises(ValueError):
            schedule_trigger(every, cron)


def test_a_scheduler_runs_reindex_and_skips_while_one_is_running(
        kb: KnowledgeBase, folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    scheduler = BackgroundScheduler()
    add_reindex_job(scheduler, kb, [Root(folder)], schedule_trigger("1s", None), run_now=True)
    scheduler.start()
    try:
        deadline = time.monotonic() + 60
        while len(kb.runs()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        while True:  # between two ticks, take the lock: the next tick is skipped, not queued
            try:
                with kb.writer():
                    time.sleep(2.5)
                break
            except WriterBusyError:
                time.sleep(0.05)
    finally:
        scheduler.shutdown(wait=True)
    runs = kb.runs()
    assert len(runs) >= 2 and {r.trigger for r in runs} == {"schedule"}
    assert runs[-1].report is not None and len(runs[-1].report.added) == 5
    assert "scheduled re-index skipped: a re-index is already running" in caplog.text
    assert all(r.status == "finished" for r in runs)
