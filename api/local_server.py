"""Runs the real server on loopback in a subprocess, for the test suite and the benchmarks.

Both drive ``bridge`` as a user does: the CLI in its own process (``BRIDGE``, ``create_key``)
and ``bridge serve`` on a free loopback port (``bridge_server``), reached with an httpx client
(httpx comes with the ``dev`` extra; nothing in the server imports this module).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

BRIDGE = [sys.executable, "-m", "api"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def create_key(env: dict[str, str], name: str, *scopes: str, offices: tuple[str, ...] = ()
               ) -> str:
    """A new API key from `bridge keys create`, as an operator makes one."""
    run = subprocess.run([*BRIDGE, "keys", "create", name, *(f"--scope={s}" for s in scopes),
                          *(f"--office={o}" for o in offices)], env=env, capture_output=True,
                         text=True, timeout=120, check=True)
    return run.stdout.strip()


@contextmanager
def bridge_server(env: dict[str, str], *args: str,
                  log_path: Path | None = None) -> Iterator[httpx.Client]:
    """`bridge serve` in its own process; a client once /health answers.

    The client carries a key with every scope (made for it with `bridge keys
    create`); tests of access control make their own. The server's output goes
    to a file (``log_path``, else a temporary one), never to an undrained pipe:
    thousands of access-log lines would fill it and stall the server. The server's
    process id is ``client.server_pid``, for tests that measure its memory.
    """
    key = create_key(env, "tests", "read", "ingest", "admin")
    port = free_port()
    log_path = log_path or Path(tempfile.mkstemp(prefix="bridge-serve-", suffix=".log")[1])
    with log_path.open("wb") as log:
        process = subprocess.Popen([*BRIDGE, "serve", "--host", "127.0.0.1", "--port",
                                    str(port), *args], env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60,
                              headers={"Authorization": f"Bearer {key}"})
        client.server_pid = process.pid  # type: ignore[attr-defined]
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("server did not start: "
                                       + log_path.read_text(errors="replace")[-2000:])
                time.sleep(0.5)
            yield client
        finally:
            client.close()
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def upload(client: httpx.Client, *files: tuple[str, bytes], **fields: str) -> httpx.Response:
    """``POST /documents`` with ``files`` (name, bytes) and form ``fields``."""
    return client.post("/documents", data=fields,
                       files=[("files", (name, content, "application/octet-stream"))
                              for name, content in files])


def wait_for_job(client: httpx.Client, accepted: httpx.Response, timeout_s: float = 300) -> dict:
    """The upload job an accepted upload (202) started, once it has ended."""
    assert accepted.status_code == 202, accepted.text
    deadline = time.monotonic() + timeout_s
    while True:
        job = client.get(accepted.json()["status_url"]).json()
        if job["status"] in ("finished", "failed"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.2)


def uploaded(client: httpx.Client, *files: tuple[str, bytes], **fields: str) -> list[dict]:
    """Each file's outcome once its upload job has ended (status, document_id, error)."""
    return wait_for_job(client, upload(client, *files, **fields))["files"]
