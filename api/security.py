"""What an answer discloses: its headers, and how it names stored files.

Pure ASGI middlewares, so that no route can forget them. ``ShownRecords`` names every
stored file by its source and its path inside it (``search.path_names``), never by the
server's absolute path, and every id by an opaque token (``search.public_ids``).
``SecurityHeaders`` sets what a browser may run, frame and send, and what caches keep:

* ``Content-Security-Policy``: scripts from this site only (the pages' scripts are files
  under ``/static``, never inline), nothing may frame a page, forms post here only. Inline
  styles are allowed: the pages carry one inline stylesheet (one request per page) and
  plotly draws the map with injected styles; a style cannot run code. The API's own
  documentation pages (``/docs``, ``/redoc``) start their viewer with an inline script, so
  they alone may run one.
* ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY`` (older browsers),
  ``Referrer-Policy: no-referrer``: a result's address (a query) never leaks to another site.
* ``Cache-Control: private, no-store`` and ``Vary: Authorization, Cookie`` on every answer
  but the static assets: an answer depends on who asks, so no shared cache may keep one
  office's answer (or file) and hand it to another.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from search.path_names import SHOWN_PATHS, on_first_use
from search.public_ids import PUBLIC_IDS

if TYPE_CHECKING:
    from search.knowledge_base import KnowledgeBase

STATIC_PREFIXES = ("/static/", "/static-offline-docs/")
DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})

_POLICY = ("default-src 'self'; script-src 'self'{scripts}; style-src 'self' 'unsafe-inline'; "
           "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; "
           "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
STRICT_POLICY = _POLICY.format(scripts="")
DOCS_POLICY = _POLICY.format(scripts=" 'unsafe-inline'")
_ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = (
                    DOCS_POLICY if path in DOCS_PATHS else STRICT_POLICY)
                for name, value in _ALWAYS.items():
                    headers[name] = value
                if not path.startswith(STATIC_PREFIXES):
                    headers["Cache-Control"] = "private, no-store"
                    headers["Vary"] = "Authorization, Cookie"
            await send(message)

        await self.app(scope, receive, with_headers)


class ShownRecords:
    """Sets, for each request, how stored paths and ids are shown in what it is answered:
    paths by their source, ids as opaque tokens (``search.public_ids``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kb = getattr(scope["app"].state, "kb", None) if scope["type"] == "http" else None
        if kb is None:
            await self.app(scope, receive, send)
            return
        with shown_as_answered(kb):
            await self.app(scope, receive, send)


@contextmanager
def shown_as_answered(kb: KnowledgeBase) -> Iterator[None]:
    """Within the block, records dump their paths and ids as an answer shows them (a request,
    a webhook's body)."""
    paths = SHOWN_PATHS.set(on_first_use(kb.path_namer))
    ids = PUBLIC_IDS.set(kb.id_codec())
    try:
        yield
    finally:
        PUBLIC_IDS.reset(ids)
        SHOWN_PATHS.reset(paths)
