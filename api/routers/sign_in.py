"""Signing the web page in and out: an API key once, then a browser session.

Both forms carry a CSRF token, so that no other site can sign a browser in (into the
attacker's own session) or out: the sign-in form's token is also in a cookie of its own
(double submit: another site can neither read nor set it), the sign-out form's is the
session's. The session cookie is HttpOnly (no script reads it), SameSite=Strict (no other
site sends it) and Secure over HTTPS, or always behind a TLS proxy (``secure_cookies``).
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from api.auth import SESSION_COOKIE, PageAccess, get_keys, get_sessions
from api.deps import SettingsDep
from api.keys import KeyStore, Scope
from api.page_views import render
from api.sessions import SessionStore
from search.settings import Settings

router = APIRouter(include_in_schema=False)

CSRF_COOKIE = "bridge_csrf"


def _same_site_path(target: str) -> str:
    """Where to go after signing in: a path of this site only, never another host."""
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/"


def _secure_cookies(request: Request, settings: Settings) -> bool:
    return request.url.scheme == "https" or settings.secure_cookies


def _sign_in_form(request: Request, settings: Settings, next: str, error: str | None,
                  status: int = 200) -> HTMLResponse:
    """The form with a fresh CSRF token, set in its cookie too."""
    token = secrets.token_urlsafe(32)
    response = render("sign_in.html", status, next=_same_site_path(next), error=error,
                      csrf=token)
    response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=_secure_cookies(request, settings), path="/sign-in")
    return response


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, settings: SettingsDep, next: str = "/") -> HTMLResponse:
    return _sign_in_form(request, settings, next, None)


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(request: Request, settings: SettingsDep,
            keys: Annotated[KeyStore, Depends(get_keys)],
            sessions: Annotated[SessionStore, Depends(get_sessions)],
            key: Annotated[str, Form(max_length=200)] = "",
            next: Annotated[str, Form(max_length=2000)] = "/",
            csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    """Check the key and start a session (its id in the cookie, never the key)."""
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(expected, csrf):
        return _sign_in_form(request, settings, next,
                             "This form has expired; please sign in again.", 403)
    found = keys.find(key.strip()) if key.strip() else None
    if found is None or Scope.read not in found.scopes:
        return _sign_in_form(request, settings, next,
                             "That key is unknown, revoked, or lacks the read scope.", 401)
    session_id, _ = sessions.start(found)
    response = RedirectResponse(_same_site_path(next), status_code=303)
    # a browser-session cookie: gone when the browser closes, the session's row sooner or
    # later (sign-out, expiry, the key revoked)
    response.set_cookie(SESSION_COOKIE, session_id, httponly=True, samesite="strict",
                        secure=_secure_cookies(request, settings))
    response.delete_cookie(CSRF_COOKIE, path="/sign-in")
    return response


@router.post("/sign-out")
def sign_out(request: Request, access: PageAccess,
             sessions: Annotated[SessionStore, Depends(get_sessions)],
             csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    """End the session (its row, then its cookie); a form without the session's token is
    refused, so another site cannot sign a browser out."""
    if access.csrf is not None and not secrets.compare_digest(access.csrf, csrf):
        raise HTTPException(403, "this form has expired; reload the page to sign out")
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        sessions.end(session_id)
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response

