"""Clients that send bodies slowly, hugely or without a key, against a real server.

Raw sockets on loopback, as an attacker's script writes them: chunked bodies that never
end, bodies without a key, more uploads than the server receives at once. The server's
resident memory is read from /proc while they stall.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from api.local_server import bridge_server, create_key

MB = 1_000_000
IDLE_S = 3


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {**os.environ, "BRIDGE_DATA_DIR": str(tmp_path_factory.mktemp("bodies")),
            "BRIDGE_MAX_UPLOAD_BYTES": str(60 * MB), "BRIDGE_MAX_CONCURRENT_UPLOADS": "2",
            "BRIDGE_BODY_IDLE_TIMEOUT_S": str(IDLE_S),
            # one query at a time and no waiting for a turn: a burst of searches is shed
            "BRIDGE_MAX_CONCURRENT_QUERIES": "1", "BRIDGE_QUERY_WAIT_S": "0"}


@pytest.fixture(scope="module")
def server(env: dict[str, str]) -> Iterator[httpx.Client]:
    with bridge_server(env) as client:
        yield client


def rss_mb(pid: int) -> float:
    """The process's resident memory, in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmRSS"))
    return int(line.split()[1]) / 1000


def settled_rss_mb(pid: int, timeout_s: float = 120) -> float:
    """Resident memory once the server has finished warming up (it loads the query
    encoder in the background after it starts answering)."""
    deadline = time.monotonic() + timeout_s
    last = rss_mb(pid)
    while time.monotonic() < deadline:
        time.sleep(1.5)
        now = rss_mb(pid)
        if abs(now - last) < 2:
            return now
        last = now
    return last


def chunked_upload(server: httpx.Client, megabytes: int, key: str | None) -> socket.socket:
    """A socket that started a chunked multipart upload and sent ``megabytes`` of it
    (as much as the server takes), then stalls without ending it."""
    host, port = server.base_url.host, server.base_url.port
    sock = socket.create_connection((host, port))
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    sock.sendall((f"POST /documents HTTP/1.1\r\nHost: {host}\r\n{auth}"
                  "Content-Type: multipart/form-data; boundary=b\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n").encode())
    head = b'--b\r\nContent-Disposition: form-data; name="files"; filename="big.md"\r\n\r\n'
    piece = b"word " * 200_000  # 1 MB
    sock.settimeout(5)
    try:
        sock.sendall(b"%x\r\n%s\r\n" % (len(head), head))
        for _ in range(megabytes):
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
    except OSError:  # the server answered and closed: what a keyless client gets
        pass
    return sock


def answer(sock: socket.socket, wait_s: float = 10) -> str:
    sock.settimeout(wait_s)
    try:
        return sock.recv(4096).decode("latin-1")
    except OSError:
        return ""


def test_without_a_key_a_body_is_never_read(server: httpx.Client) -> None:
    before = settled_rss_mb(server.server_pid)  # type: ignore[attr-defined]
    started = time.monotonic()
    sockets = [chunked_upload(server, 47, key=None) for _ in range(6)]
    answers = [answer(s) for s in sockets]
    grown = rss_mb(server.server_pid) - before  # type: ignore[attr-defined]
    for s in sockets:
        s.close()
    assert all(a.startswith("HTTP/1.1 401") for a in answers), answers
    assert time.monotonic() - started < 30
    assert grown < 20, f"the server grew by {grown:.0f} MB"


def test_stalled_uploads_are_spooled_to_disk_capped_and_timed_out(
        server: httpx.Client, env: dict[str, str]) -> None:
    key = create_key(env, "uploader", "read", "ingest")
    before = settled_rss_mb(server.server_pid)  # type: ignore[attr-defined]
    stalled = [chunked_upload(server, 40, key) for _ in range(2)]  # the two slots
    grown = rss_mb(server.server_pid) - before  # type: ignore[attr-defined]
    third = chunked_upload(server, 1, key)
    assert answer(third).startswith("HTTP/1.1 429")
    third.close()
    assert grown < 40, f"two stalled 40 MB uploads grew the server by {grown:.0f} MB"
    for sock in stalled:  # each is cut once it has been silent for the idle limit
        assert answer(sock, IDLE_S + 10).startswith("HTTP/1.1 408")
        sock.close()
    assert server.get("/health").status_code == 200


def test_a_body_over_the_limit_is_cut_while_it_streams(server: httpx.Client,
                                                       env: dict[str, str]) -> None:
    key = create_key(env, "greedy", "read", "ingest")
    sock = chunked_upload(server, 70, key)  # past the 60 MB limit
    assert answer(sock).startswith("HTTP/1.1 413")
    sock.close()


def test_a_saturated_server_sheds_queries_with_429_and_retry_after(
        server: httpx.Client) -> None:
    """One query at a time and no waiting: of a burst of searches, some are answered and the
    rest refused at once, each refusal saying when to come back; none is a 5xx."""
    server.post("/search", json={"query": "warm up"})

    def search(i: int) -> httpx.Response:
        return server.post("/search", json={"query": f"heart failure alerts {i}" * 20})

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(search, range(32)))
    statuses = {r.status_code for r in answers}
    assert statuses <= {200, 429} and 200 in statuses and 429 in statuses, statuses
    refused = next(r for r in answers if r.status_code == 429)
    assert int(refused.headers["Retry-After"]) >= 1 and "try again" in refused.json()["detail"]
    shed = sum(r.status_code == 429 for r in answers)
    assert f"bridge_queries_shed_total {float(shed)}" in server.get("/metrics").text
