"""Who is asking, and what they may do and see: API keys, scopes and office visibility.

Every route but ``/health`` (and the readiness probe) depends on one of
``ReadAccess``, ``IngestAccess`` or ``AdminAccess``: the JSON API takes a key in a header,
``Authorization: Bearer KEY`` or ``X-API-Key: KEY``, never a cookie. The web pages
(``PageAccess``, and ``LinkAccess`` for what they link to: a document's file, the map) take
a browser session too (``api.sessions``: the cookie holds a session id, never a key). No
key, or a wrong or revoked one: 401; a key without the route's scope: 403. A key limited to
offices sees nothing of the others: the routers narrow every query with
``Access.restrict`` and check every document with ``Access.sees``.
``open_read_on_loopback`` (a laptop demo) lets requests from this machine read without a
key, and nothing else.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.keys import ApiKey, KeyStore, Scope
from api.sessions import SessionStore
from search.records import Filters
from search.settings import Settings

SESSION_COOKIE = "bridge_session"

_bearer = HTTPBearer(auto_error=False, description="An API key from `bridge keys create`.")
_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                       description="The same key, in a header of its own.")


@dataclass(frozen=True)
class Access:
    """A caller's rights: its scopes and the offices it may see (None: every office);
    ``csrf`` is the token a browser session's forms carry."""

    name: str
    scopes: frozenset[Scope]
    offices: frozenset[str] | None  # casefolded
    anonymous: bool = False  # no key: read on loopback (open_read_on_loopback)
    csrf: str | None = None
    key_id: int | None = None

    def sees(self, office: str | None) -> bool:
        return self.offices is None or (office is not None and office.casefold() in self.offices)

    def visible(self, offices: list[str]) -> list[str]:
        """Those of ``offices`` this caller may see, in order."""
        return [o for o in offices if self.sees(o)]

    def restrict(self, filters: Filters) -> Filters | None:
        """``filters`` narrowed to the visible offices; None when nothing visible can match."""
        if self.offices is None:
            return filters
        offices = self.visible(filters.office) if filters.office else sorted(self.offices)
        return filters.model_copy(update={"office": offices}) if offices else None


def get_keys(request: Request) -> KeyStore:
    return request.app.state.keys


def get_sessions(request: Request) -> SessionStore:
    return request.app.state.sessions


def loopback_reader(settings: Settings, host: str | None) -> Access | None:
    """The laptop demo's keyless reader, for a request from this machine when
    ``open_read_on_loopback`` is on; None otherwise."""
    if not settings.open_read_on_loopback or host is None:
        return None
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        return None
    return Access("loopback (open_read_on_loopback)", frozenset({Scope.read}), None,
                  anonymous=True) if loopback else None


def authenticate(
    request: Request,
    keys: Annotated[KeyStore, Depends(get_keys)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> Access:
    """The API's caller, from the key in its headers; 401 without a valid one."""
    secret = (bearer.credentials if bearer else None) or header
    if secret:
        return key_access(keys, secret)
    reader = loopback_reader(request.app.state.settings,
                             request.client.host if request.client else None)
    if reader is None:
        raise _key_required()
    return reader


def key_access(keys: KeyStore, secret: str) -> Access:
    """The access a key grants; 401 for an unknown or revoked one."""
    key = keys.find(secret.strip())
    if key is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or revoked API key",
                            headers={"WWW-Authenticate": "Bearer"})
    return access_of(key)


def access_of(key: ApiKey, csrf: str | None = None) -> Access:
    offices = frozenset(o.casefold() for o in key.offices) if key.offices else None
    return Access(key.name, frozenset(key.scopes), offices, csrf=csrf, key_id=key.id)


@dataclass(frozen=True)
class _Presented:
    """What a browser's request presents (a session cookie, or a key in a header), with the
    stores that check them."""

    request: Request
    keys: KeyStore
    sessions: SessionStore
    bearer: HTTPAuthorizationCredentials | None
    header: str | None

    def access(self) -> Access:
        """Its session's access, else what the API would accept; 401 without either."""
        session_id = self.request.cookies.get(SESSION_COOKIE)
        session = self.sessions.find(session_id) if session_id else None
        if session is not None:
            return access_of(session.key, session.csrf)
        return authenticate(self.request, self.keys, self.bearer, self.header)


def _presented(
    request: Request,
    keys: Annotated[KeyStore, Depends(get_keys)],
    sessions: Annotated[SessionStore, Depends(get_sessions)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> _Presented:
    return _Presented(request, keys, sessions, bearer, header)


def page_access(presented: Annotated[_Presented, Depends(_presented)]) -> Access:
    """A web page's reader: a browser without a session is sent to the sign-in page (303)
    instead of getting a 401 it cannot act on."""
    try:
        access = presented.access()
    except HTTPException as exc:
        url = presented.request.url
        here = url.path + (f"?{url.query}" if url.query else "")
        raise HTTPException(status.HTTP_303_SEE_OTHER, "sign in with an API key",
                            headers={"Location": f"/sign-in?{urlencode({'next': here})}"}
                            ) from exc
    return _reader(access)


def link_access(presented: Annotated[_Presented, Depends(_presented)]) -> Access:
    """What a page links to (a document's file, the map): a session or a key; 401 without."""
    return _reader(presented.access())


def _reader(access: Access) -> Access:
    if Scope.read not in access.scopes:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this key lacks the 'read' scope")
    return access


def _key_required() -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED,
                         "an API key is required: send 'Authorization: Bearer KEY' or "
                         "'X-API-Key: KEY' (operators create keys with `bridge keys create`)",
                         headers={"WWW-Authenticate": "Bearer"})


def require(scope: Scope) -> Callable[[Access], Access]:
    """A dependency: the caller's access, if it holds ``scope``; else 403 (401 without a key)."""

    def dependency(access: Annotated[Access, Depends(authenticate)]) -> Access:
        if scope not in access.scopes and access.anonymous:
            raise _key_required()
        if scope not in access.scopes:
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"this key lacks the '{scope}' scope this route needs")
        return access

    return dependency


ReadAccess = Annotated[Access, Depends(require(Scope.read))]
IngestAccess = Annotated[Access, Depends(require(Scope.ingest))]
AdminAccess = Annotated[Access, Depends(require(Scope.admin))]
PageAccess = Annotated[Access, Depends(page_access)]
LinkAccess = Annotated[Access, Depends(link_access)]
