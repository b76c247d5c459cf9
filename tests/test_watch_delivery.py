"""Watches through the real server: a Paris watch hears, once, of Boston's translation, in its
Atom feed and at a webhook receiver on loopback, signed; a crash between publish and delivery
delivers once after the restart."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import feedparser
import httpx
import pytest

from api.local_server import BRIDGE, bridge_server, create_key

FRENCH = ("Les infirmières rappellent chaque patient insuffisant cardiaque dès que son poids "
          "augmente de deux kilos en trois jours.")
ENGLISH = ("Nurses call every heart failure patient as soon as their weight rises by two "
           "kilograms in three days.")
UNRELATED = "The startup raised a seed round of two million dollars to open a Berlin office."


class Receiver:
    """A webhook receiver on loopback that keeps what it was sent."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout_s: float = 60) -> list[tuple[dict, bytes]]:
        deadline = time.monotonic() + timeout_s
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.2)
        return list(self.received)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()


def ingest(env: dict[str, str], folder: Path, office: str) -> None:
    subprocess.run([*BRIDGE, "ingest", str(folder), "--office", office], env=env,
                   capture_output=True, text=True, timeout=600, check=True)


def note(root: Path, name: str, *paragraphs: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    sections = (f"## Part {n}\n\n{text}" for n, text in enumerate(paragraphs, 1))
    (root / name).write_text("# Note\n\n" + "\n\n".join(sections) + "\n", encoding="utf-8")
    return root


def verified(secret: str, headers: dict, body: bytes) -> dict:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Bridge-Signature"], expected)
    return json.loads(body)


def test_a_paris_watch_hears_of_bostons_translation_once(tmp_path: Path,
                                                         receiver: Receiver) -> None:
    env = {**os.environ, "BRIDGE_DATA_DIR": str(tmp_path / "data"),
           "BRIDGE_WEBHOOK_ALLOW_PRIVATE": "1"}  # the receiver is on loopback
    ingest(env, note(tmp_path / "paris", "poids.md", FRENCH), "Paris")
    with bridge_server(env) as server:
        paris_only = create_key(env, "paris-only", "read", offices=("Paris",))
        made = server.post("/watches", json={"text": FRENCH, "office": "Paris",
                                             "webhook_url": receiver.url})
        assert made.status_code == 201, made.text
        watch = made.json()
        blind = server.post("/watches", json={"text": FRENCH, "office": "Paris"},
                            headers={"Authorization": f"Bearer {paris_only}"})
        assert blind.status_code == 201 and blind.json()["target_offices"] == []

        ingest(env, note(tmp_path / "boston", "weight.md", ENGLISH, UNRELATED), "Boston")
        [(headers, body)] = receiver.wait_for(1)
        sent = verified(watch["secret"], headers, body)
        assert ENGLISH in sent["found"]["text"] and sent["document"]["office"] == "Boston"
        assert FRENCH in sent["watched"]["text"] and headers["X-Bridge-Alert"] == str(sent["id"])

        feed = feedparser.parse(server.get(watch["feed_url"]).text)
        assert not feed.bozo and feed.version == "atom10"
        [entry] = feed.entries
        assert ENGLISH in entry.content[0].value and FRENCH in entry.content[0].value
        assert entry.link.endswith(f"/view/{sent['document']['id']}")
        assert server.get(f"/watches/{watch['id']}/feed?token=wrong").status_code == 404

        (tmp_path / "boston" / "weight.md").rename(tmp_path / "boston" / "moved.md")
        ingest(env, tmp_path / "boston", "Boston")  # moved: nothing new
        time.sleep(2 * 1.0 + 1)  # two rounds of the sender
        assert len(receiver.received) == 1
        assert len(server.get(f"/watches/{watch['id']}/alerts").json()) == 1
        paris_key = {"Authorization": f"Bearer {paris_only}"}
        assert server.get(f"/watches/{blind.json()['id']}/alerts",
                          headers=paris_key).json() == []
        assert server.get(f"/watches/{watch['id']}", headers=paris_key).status_code == 404
        assert 'bridge_watch_alerts_total{status="delivered"} 1.0' in server.get(
            "/metrics").text
        bad_requests_get_a_4xx_with_a_reason(server)


def bad_requests_get_a_4xx_with_a_reason(server: httpx.Client) -> None:
    for body, status in [({"text": FRENCH, "chunk_id": 1}, 422),
                         ({"text": FRENCH, "webhook_url": "not a url"}, 422),
                         ({"text": FRENCH, "webhook_url": "ftp://x"}, 422),
                         ({"text": FRENCH, "threshold": 2}, 422),
                         ({"document_id": "nothing"}, 404),
                         ({"text": "x" * 100_000}, 422)]:
        answer = server.post("/watches", json=body)
        assert answer.status_code == status, (body, answer.text)
        assert answer.json()["detail"]
    assert server.delete("/watches/12345").status_code == 404
    assert httpx.get(f"{server.base_url}/watches").status_code == 401


def test_an_alert_published_while_no_server_runs_is_delivered_once_after_a_crash(
        tmp_path: Path, receiver: Receiver) -> None:
    env = {**os.environ, "BRIDGE_DATA_DIR": str(tmp_path / "data"),
           "BRIDGE_WEBHOOK_ALLOW_PRIVATE": "1"}  # the receiver is on loopback
    ingest(env, note(tmp_path / "paris", "poids.md", FRENCH), "Paris")
    paris = {"Authorization": f"Bearer {create_key(env, 'paris', 'read')}"}
    with bridge_server(env) as dying:
        watch = dying.post("/watches", headers=paris, json={
            "text": FRENCH, "office": "Paris", "webhook_url": receiver.url}).json()
        os.kill(dying.server_pid, signal.SIGKILL)  # type: ignore[attr-defined]
    ingest(env, note(tmp_path / "boston", "weight.md", ENGLISH), "Boston")  # the outbox row
    with bridge_server(env) as server:
        [(headers, body)] = receiver.wait_for(1)
        assert ENGLISH in verified(watch["secret"], headers, body)["found"]["text"]
        time.sleep(3)
        assert len(receiver.received) == 1
        [alert] = server.get(f"/watches/{watch['id']}/alerts", headers=paris).json()
        assert alert["webhook_status"] == "delivered"


def test_the_command_line_adds_lists_and_removes_watches(corpus_copy_env: dict[str, str]
                                                         ) -> None:
    def bridge(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([*BRIDGE, *args], env=corpus_copy_env, capture_output=True,
                              text=True, timeout=300, check=check)

    made = json.loads(bridge("watch", "add", "--text", FRENCH, "--office", "Paris", "--to",
                             "Boston", "--json").stdout)
    assert made["target_offices"] == ["boston"] and made["secret"]
    [listed] = json.loads(bridge("watch", "list", "--json").stdout)
    assert (listed["id"], listed["owner"]) == (made["id"], "cli")
    assert json.loads(bridge("alerts", "--json").stdout) == []
    bad = bridge("watch", "add", "--text", FRENCH, "--chunk", "x", check=False)
    assert bad.returncode == 2 and "exactly one" in bad.stderr
    assert "removed" in bridge("watch", "rm", str(made["id"])).stdout
    assert bridge("watch", "rm", str(made["id"]), check=False).returncode == 2


def test_a_webhook_never_points_inside_the_servers_network(server: httpx.Client) -> None:
    for url in ("http://127.0.0.1:9/hook", "http://localhost/hook", "http://10.1.2.3/hook",
                "http://169.254.169.254/latest/meta-data", "http://[::1]/hook"):
        answer = server.post("/watches", json={"text": FRENCH, "office": "Paris",
                                               "webhook_url": url})
        assert answer.status_code == 403, (url, answer.text)
        assert "not a public address" in answer.json()["detail"]
