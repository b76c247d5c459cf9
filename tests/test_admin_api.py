"""Re-indexing through a real server: /admin routes, the lock, the server's own
schedule, and a running server switching to new generations without a restart."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.local_server import BRIDGE, bridge_server
from tests.helpers import TOPICS, write_note


@pytest.fixture(scope="module")
def share(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("share")
    for i, topic in enumerate(TOPICS[:4]):
        write_note(root / "berlin" / f"{i}.md", topic)
    (root / "sources.yaml").write_text(
        "sources:\n  - {name: berlin, folder: berlin, office: Berlin, region: EU}\n",
        encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def env(share: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {**os.environ, "BRIDGE_DATA_DIR": str(tmp_path_factory.mktemp("admin")),
            "BRIDGE_SOURCES_FILE": str(share / "sources.yaml"), "BRIDGE_REINDEX_WAIT_S": "1"}


@pytest.fixture(scope="module")
def server(env: dict[str, str]) -> Iterator[httpx.Client]:
    with bridge_server(env, "--reindex-cron", "0 2 * * *") as client:
        yield client


def wait_for_run(client: httpx.Client, run_id: int) -> dict:
    deadline = time.monotonic() + 300
    while True:
        run = client.get(f"/admin/runs/{run_id}").json()
        if run["status"] != "running":
            return run
        assert time.monotonic() < deadline
        time.sleep(0.2)


def offices_found(client: httpx.Client, query: str) -> list[str]:
    response = client.post("/search", json={"query": query, "k": 5})
    assert response.status_code == 200
    return [h["document"]["source_path"] for h in response.json()["hits"]]


def test_the_server_reports_its_schedule(server: httpx.Client) -> None:
    schedule = server.get("/admin/schedule").json()
    assert schedule["cron"] == "0 2 * * *"
    assert schedule["next_run"].endswith(("02:00:00Z", "02:00:00+00:00"))


def test_reindex_over_http_and_hot_swap(server: httpx.Client, share: Path,
                                        env: dict[str, str]) -> None:
    assert offices_found(server, "COPD remote follow-up") == []
    generation = server.get("/health").json()["generation"]

    started = server.post("/admin/reindex")
    assert started.status_code == 202
    run = wait_for_run(server, started.json()["run_id"])
    assert run["status"] == "finished" and run["trigger"] == "api"
    assert run["files_done"] == run["files_total"] == 4
    assert len(run["report"]["added"]) == 4 and run["report"]["chunks_embedded"] > 0
    # the running server serves the new generation without a restart
    assert server.get("/health").json()["generation"] > generation
    copd = str((share / "berlin" / "1.md").resolve())
    assert "berlin/1.md" in offices_found(server, "COPD remote follow-up")  # source/path

    # a re-index by the CLI, in another process, is picked up between requests
    (share / "berlin" / "1.md").unlink()
    cli = subprocess.run([*BRIDGE, "reindex", "--json"], env=env, capture_output=True,
                         text=True, timeout=600, check=True)
    assert json.loads(cli.stdout)["deleted"] == [copd]
    assert "berlin/1.md" not in offices_found(server, "COPD remote follow-up")

    runs = server.get("/admin/runs", params={"limit": 5}).json()
    assert [(r["trigger"], r["status"]) for r in runs] == [("cli", "finished"),
                                                            ("api", "finished")]


def test_a_second_run_is_refused_with_who_holds_the_lock(
        server: httpx.Client, env: dict[str, str]) -> None:
    lock_path = Path(env["BRIDGE_DATA_DIR"]) / "write.lock"
    with open(lock_path, "a+") as lock:  # another run holds the data directory
        fcntl.flock(lock, fcntl.LOCK_EX)
        lock.truncate(0)
        lock.write(json.dumps({"pid": os.getpid(), "since": "2026-11-29T02:00:00+00:00"}))
        lock.flush()
        response = server.post("/admin/reindex")
        cli = subprocess.run([*BRIDGE, "reindex"], env=env, capture_output=True, text=True,
                             timeout=600)
        lock.truncate(0)
    assert response.status_code == 409
    assert response.json()["detail"].startswith(
        "a re-index is already running since 2026-11-29T02:00:00+00:00")
    assert cli.returncode == 3 and "already running since 2026-11-29T02:00:00" in cli.stderr


def test_unknown_run_is_404(server: httpx.Client) -> None:
    response = server.get("/admin/runs/99999")
    assert response.status_code == 404 and response.json()["detail"] == "no run 99999"
    assert server.get("/admin/runs", params={"limit": 0}).status_code == 422
