"""Request bodies: the caller is checked before a byte is read, the body bounded as it streams.

A pure ASGI middleware in front of every route, so that a client without a key cannot make
the server hold anything:

* **Credentials first.** A request that carries a body must show a key in its headers
  (``Authorization: Bearer`` or ``X-API-Key``), checked before its body is read; without a
  valid one it gets its 401 at once and the connection is closed. An upload needs a key with
  the ``ingest`` scope (403 otherwise). The sign-in and sign-out forms carry their own
  proofs (a key, a CSRF token), and the laptop demo's keyless reads from this machine
  (``open_read_on_loopback``) may send search, bridge and watch bodies.
* **Size while it streams.** A declared ``Content-Length`` over the limit is a 413 at once;
  otherwise bytes are counted as they arrive and the request is cut with 413 as soon as it
  passes the limit, chunked or not. Uploads (``POST /documents``) get ``max_upload_bytes``,
  every other request ``max_request_bytes``. The body is handed to the route as it arrives,
  never gathered here: uploaded files are spooled to disk by the multipart parser.
* **Time.** A body that stalls longer than ``body_idle_timeout_s`` between two pieces, or
  takes longer than ``body_total_timeout_s`` in all, is a 408.
* **Uploads at once.** At most ``max_concurrent_uploads`` uploads are received together; one
  more is a 429 before its body is read.
"""

from __future__ import annotations

import asyncio
import json
import time

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import loopback_reader
from api.keys import Scope as KeyScope
from search.settings import Settings

UPLOAD_PATH = "/documents"
# Forms that prove who sends them in their body (a key, a CSRF token): read without a key.
SELF_PROVING = frozenset({"/sign-in", "/sign-out"})
# Routes that read with a body, open to the laptop demo's keyless reader.
READ_WITH_BODY = frozenset({"/search", "/bridges", "/watches"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BodyLimit:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.uploads = asyncio.Semaphore(settings.max_concurrent_uploads)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        path = scope["path"].rstrip("/") or "/"
        upload = scope["method"] == "POST" and path == UPLOAD_PATH
        limit = self.settings.max_upload_bytes if upload else self.settings.max_request_bytes
        refusal = self._refusal(scope, path, upload, limit)
        if refusal is not None:
            await _answer(send, *refusal)
            return
        bounded = _bounded(receive, limit, self.settings.body_idle_timeout_s,
                           self.settings.body_total_timeout_s)
        if not upload:
            await self.app(scope, bounded, send)
            return
        if self.uploads.locked():
            await _answer(send, 429, f"{self.settings.max_concurrent_uploads} uploads are "
                          "being received; try again in a moment")
            return
        async with self.uploads:
            await self.app(scope, bounded, send)

    def _refusal(self, scope: Scope, path: str, upload: bool,
                 limit: int) -> tuple[int, str] | None:
        """Why this request is refused before its body is read, if it is."""
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return 413, f"request body too large (limit {limit:,} bytes)"
        if path in SELF_PROVING:
            return None
        secret = _api_key(headers)
        if secret is None:
            client = scope.get("client")
            if path in READ_WITH_BODY and loopback_reader(self.settings,
                                                          client[0] if client else None):
                return None
            return 401, "an API key is required before the request body: send " \
                        "'Authorization: Bearer KEY' or 'X-API-Key: KEY'"
        key = scope["app"].state.keys.find(secret)
        if key is None:
            return 401, "unknown or revoked API key"
        if upload and KeyScope.ingest not in key.scopes:
            return 403, "this key lacks the 'ingest' scope uploads need"
        return None


def _has_body(scope: Scope) -> bool:
    if scope["method"] not in _BODY_METHODS:
        return False
    headers = Headers(scope=scope)
    return headers.get("content-length", "0") != "0" or "transfer-encoding" in headers


def _api_key(headers: Headers) -> str | None:
    authorization = headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return headers.get("x-api-key") or None


def _bounded(receive: Receive, limit: int, idle_s: float, total_s: float) -> Receive:
    """``receive`` that refuses (413, 408) a body past ``limit`` bytes or too slow. The
    refusals are HTTP errors, so that the route's body reader lets them through as they are."""
    received = 0
    deadline = time.monotonic() + total_s

    async def bounded() -> Message:
        nonlocal received
        wait = min(idle_s, deadline - time.monotonic())
        try:
            message = await asyncio.wait_for(receive(), timeout=max(wait, 0.001))
        except TimeoutError:
            raise HTTPException(408, "the request body arrived too slowly",
                                headers={"Connection": "close"}) from None
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise HTTPException(413, f"request body too large (limit {limit:,} bytes)",
                                    headers={"Connection": "close"})
        return message

    return bounded


async def _answer(send: Send, status: int, detail: str) -> None:
    """An answer sent before the body is read; the connection closes after it."""
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"connection", b"close"),
               (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
