"""Running `bridge` as a user does: the CLI and a real uvicorn server on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

BRIDGE = [sys.executable, "-m", "api"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def bridge_server(env: dict[str, str], *args: str) -> Iterator[httpx.Client]:
    """`bridge serve` in its own process; a client once /health answers."""
    port = free_port()
    process = subprocess.Popen([*BRIDGE, "serve", "--host", "127.0.0.1", "--port", str(port),
                                *args], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if client.get("/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {process.stdout.read().decode()}")
            time.sleep(0.5)
        yield client
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=30)
