"""Uploads as jobs: they queue behind each other and behind a run holding the write lock,
and a job the server was running when it died is taken up at the next start."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from api.local_server import BRIDGE, bridge_server, upload, wait_for_job
from tests.filemakers import scanned_pdf


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "BRIDGE_DATA_DIR": str(tmp_path / "data")}


def note(i: int) -> tuple[str, bytes]:
    return f"note-{i}.md", f"# Pilot {i}\n\nThe pilot number {i} calls patients daily.\n".encode()


def test_uploads_queue_behind_each_other_and_behind_a_running_ingest(
        env: dict[str, str], tmp_path: Path) -> None:
    folder = tmp_path / "share" / "paris" / "notes"
    folder.mkdir(parents=True)
    for i in range(12):
        (folder / f"{i}.md").write_text(f"# Report {i}\n\nRemote monitoring report {i}.\n")
    with bridge_server(env) as server:
        cli = subprocess.Popen([*BRIDGE, "ingest", str(tmp_path / "share")], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        accepted = [upload(server, note(i), office="Boston") for i in range(3)]
        assert [a.status_code for a in accepted] == [202, 202, 202]  # never a 409
        jobs = [wait_for_job(server, a) for a in accepted]
        assert cli.wait(timeout=300) == 0
        assert [(j["status"], j["files"][0]["status"]) for j in jobs] == [
            ("finished", "added")] * 3
        ids = {j["files"][0]["document_id"] for j in jobs}
        assert len(ids) == 3 and None not in ids


def test_a_job_the_server_was_running_when_it_died_resumes_at_the_next_start(
        env: dict[str, str], tmp_path: Path) -> None:
    with bridge_server(env) as dying:
        pages = ["alerts", "nurses", "weights", "calls", "visits", "doses", "scales", "kits"]
        scan = scanned_pdf(tmp_path / "scan.pdf", [f"Quarkblossom {p}" for p in pages])
        accepted = upload(dying, ("scan.pdf", scan.read_bytes()), office="Paris")
        assert accepted.status_code == 202
        job_url = accepted.json()["status_url"]
        time.sleep(1.0)  # the job is reading the scan (OCR) when the server dies
        assert dying.get(job_url).json()["status"] in ("queued", "running")
        os.kill(dying.server_pid, signal.SIGKILL)  # type: ignore[attr-defined]
    with bridge_server(env) as server:
        job = wait_for_job(server, httpx.Response(202, json={"status_url": job_url}))
        assert job["status"] == "finished" and job["files"][0]["status"] == "added", job
        hits = server.post("/search", json={"query": "Quarkblossom nurses"}).json()["hits"]
        assert hits and hits[0]["document"]["id"] == job["files"][0]["document_id"]
