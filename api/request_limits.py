"""The server's limits on what a search asks: ``default_k``, ``max_k``, ``max_query_chars``.

They are settings, read when the app starts, so the request models cannot carry them as
field bounds. A route holds its body to them here, after the models' own checks, and
refuses what is beyond them with the same 422 as those checks (one error per field, in
pydantic's words), so a client sees one kind of validation error whichever limit it met.
"""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError

from api.schemas import SearchRequest
from search.settings import Settings

Error = dict[str, Any]


def _too_long(loc: tuple[str, ...], text: str | None, limit: int) -> list[Error]:
    """The error of a text longer than ``limit`` characters (none for a shorter one)."""
    if text is None or len(text) <= limit:
        return []
    return [{"type": "string_too_long", "loc": loc, "ctx": {"max_length": limit},
             "msg": f"String should have at most {limit} characters"}]


def _too_high(loc: tuple[str, ...], value: int, limit: int) -> list[Error]:
    """The error of a number above ``limit`` (none for one within it)."""
    if value <= limit:
        return []
    return [{"type": "less_than_equal", "loc": loc, "ctx": {"le": limit},
             "msg": f"Input should be less than or equal to {limit}"}]


def _default_k(settings: Settings) -> int:
    """Results a search gets when it does not say: ``default_k``, within ``max_k``."""
    return min(settings.default_k, settings.max_k)


def _refuse(errors: list[Error]) -> None:
    """A 422 naming ``errors`` (the app's validation handler shapes it); nothing if none."""
    if errors:
        raise RequestValidationError(errors)


def search_k(request: SearchRequest, settings: Settings) -> int:
    """How many results the search asks for (``default_k`` when it does not say), once it
    is within this server's limits: a 422 when it asks for more than ``max_k`` results or
    its query is longer than ``max_query_chars``."""
    k = _default_k(settings) if request.k is None else request.k
    _refuse(_too_long(("body", "query"), request.query, settings.max_query_chars)
            + _too_high(("body", "k"), k, settings.max_k))
    return k


def check_finding_length(text: str | None, settings: Settings) -> None:
    """A 422 when a finding (a bridge's, a watch's) is longer than a query may be."""
    _refuse(_too_long(("body", "text"), text, settings.max_query_chars))


def document_limits(schemas: dict[str, Any], settings: Settings) -> None:
    """Write this server's limits into the OpenAPI request schemas, as field bounds."""
    search, bridge = schemas["SearchRequest"]["properties"], schemas["BridgeRequest"]["properties"]
    search["query"]["maxLength"] = bridge["text"]["maxLength"] = settings.max_query_chars
    search["k"].update(maximum=settings.max_k, default=_default_k(settings))
