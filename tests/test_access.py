"""Access control over the real server and corpus: keys, scopes, office visibility.

Keys are made as an operator makes them (`bridge keys create`, in the server's
data directory). No request here changes the corpus: routes that would are
called so that they fail after the key check (an unknown id, a refused file).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from api.local_server import BRIDGE, create_key

# method, path, body, the scope it needs; bodies are valid but change nothing
ROUTES = [
    ("post", "/search", {"query": "heart failure"}, "read"),
    ("get", "/documents", None, "read"),
    ("get", "/documents/1", None, "read"),
    ("post", "/bridges", {"text": "heart failure"}, "read"),
    ("get", "/bridges/map", None, "read"),
    ("post", "/watches", {"text": "heart failure", "office": "Paris"}, "read"),
    ("get", "/watches", None, "read"),
    ("get", "/watches/1/alerts", None, "read"),
    ("delete", "/watches/999999", None, "read"),
    ("get", "/documents/1/file", None, "read"),
    ("post", "/documents", "upload", "ingest"),
    ("post", "/admin/reindex", None, "ingest"),
    ("delete", "/documents/999999", None, "admin"),
    ("get", "/admin/runs", None, "admin"),
    ("get", "/admin/runs/1", None, "admin"),
    ("get", "/admin/schedule", None, "admin"),
    ("get", "/metrics", None, "admin"),
]
SCOPES = ("read", "ingest", "admin")


@pytest.fixture(scope="module")
def keys(env: dict[str, str], ingest_report: dict) -> dict[str, str]:
    made = {scope: create_key(env, f"only-{scope}", scope) for scope in SCOPES}
    made["paris"] = create_key(env, "paris-team", "read", "ingest", offices=("Paris",))
    made["paris+boston"] = create_key(env, "transatlantic", "read", offices=("Paris", "boston"))
    made["revoked"] = create_key(env, "leaver", *SCOPES)
    listed = subprocess.run([*BRIDGE, "keys", "list"], env=env, capture_output=True, text=True,
                            check=True).stdout
    leaver = next(line for line in listed.splitlines() if "leaver" in line)
    subprocess.run([*BRIDGE, "keys", "revoke", leaver.split()[0].lstrip("#")], env=env,
                   check=True, capture_output=True)
    assert made["read"] not in listed  # never the secret, only its prefix
    return made


def call(server: httpx.Client, method: str, path: str, body: object,
         headers: dict[str, str]) -> httpx.Response:
    clean = httpx.Client(base_url=server.base_url, timeout=120)  # no default key
    with clean:
        if body == "upload":
            return clean.post(path, headers=headers,
                              files={"files": ("notes.exe", b"MZ\x90\x00", "application/x")})
        return clean.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body", "needs"), ROUTES,
                         ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_every_route_needs_a_key_with_its_scope(server: httpx.Client, keys: dict[str, str],
                                                method: str, path: str, body: object,
                                                needs: str) -> None:
    missing = call(server, method, path, body, {})
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert "API key" in missing.json()["detail"]
    for headers in ({"Authorization": "Bearer kb_wrong"}, {"X-API-Key": "kb_wrong"},
                    {"Authorization": f"Bearer {keys['revoked']}"}):
        assert call(server, method, path, body, headers).status_code == 401
    for scope in SCOPES:
        for headers in ({"Authorization": f"Bearer {keys[scope]}"}, {"X-API-Key": keys[scope]}):
            response = call(server, method, path, body, headers)
            if scope == needs:
                assert response.status_code not in (401, 403), response.text
            else:
                assert response.status_code == 403, (scope, response.text)
                assert needs in response.json()["detail"]


def test_health_needs_no_key(server: httpx.Client) -> None:
    assert httpx.get(f"{server.base_url}/health").status_code == 200


def as_key(server: httpx.Client, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, timeout=120,
                        headers={"Authorization": f"Bearer {key}"})


def offices_in(payload: object) -> set[str]:
    """Every value of an "office" field anywhere in a JSON payload."""
    if isinstance(payload, dict):
        found = {payload["office"]} if isinstance(payload.get("office"), str) else set()
        return found.union(*(offices_in(v) for v in payload.values()))
    if isinstance(payload, list):
        return set().union(*(offices_in(v) for v in payload))
    return set()


def test_a_key_limited_to_offices_never_sees_another(server: httpx.Client,
                                                     keys: dict[str, str]) -> None:
    everything = server.get("/documents", params={"limit": 200}).json()["documents"]
    by_office = {o: [d for d in everything if d["office"] == o]
                 for o in {d["office"] for d in everything}}
    root = "corpus/"  # the API names files by their source: corpus/ or its offices
    by_path = {d["source_path"].removeprefix(root): d for d in everything}
    boston_doc = by_path["boston/notes/2023-05-30-pipeline-review-q2.md"]
    paris_doc = by_path["paris/notes/2023-06-05-revue-pipeline-boston-t2.md"]
    with as_key(server, keys["paris"]) as paris:
        responses = [
            paris.post("/search", json={"query": "pipeline review ambient scribes"}),
            paris.post("/search", json={"query": "PuffSense Bloom Path",
                                        "group_by_document": True}),
            paris.post("/search", json={"query": "heart failure", "mode": "lexical"}),
            paris.get("/documents", params={"limit": 200}),
            paris.get(f"/documents/{paris_doc['id']}"),
            paris.post("/bridges", json={"document_id": paris_doc["id"]}),
            paris.post("/bridges", json={"text": "weight gain alert", "office": "Paris"}),
            paris.get("/bridges/map"),
        ]
        for response in responses:
            assert response.status_code == 200, response.text
            assert offices_in(response.json()) <= {"Paris"}, response.request.url
        assert responses[0].json()["hits"] and responses[3].json()["total"] == len(
            by_office["Paris"])
        assert responses[4].json()["near_duplicates"] == []  # its twin is Boston's
        assert responses[5].json()["bridges"] == []  # no other office it may see
        assert [o["office"] for o in responses[7].json()["offices"]] == ["Paris"]
        assert responses[7].json()["links"] == []
        # another office's documents do not exist for this key
        assert paris.get(f"/documents/{boston_doc['id']}").status_code == 404
        assert paris.post("/bridges", json={"document_id": boston_doc["id"]}).status_code == 404
        assert paris.post("/search", json={"query": "pipeline", "filters": {
            "office": ["Boston"]}}).json()["hits"] == []
        assert paris.get("/documents", params={"office": "Boston"}).json()["total"] == 0
        # its ingest scope adds documents to Paris only, and runs stay admin business
        upload = paris.post("/documents", data={"office": "Boston"},
                            files={"files": ("n.md", b"# note\n\ntext", "text/markdown")})
        assert upload.status_code == 403
        assert paris.get("/admin/runs").status_code == 403
        reindex = paris.post("/admin/reindex")  # reads every office's sources
        assert reindex.status_code == 403 and "not limited to offices" in reindex.text
    with as_key(server, keys["paris+boston"]) as both:
        twins = both.get(f"/documents/{paris_doc['id']}").json()["near_duplicates"]
        assert [t["document"]["id"] for t in twins] == [boston_doc["id"]]
        result = both.post("/bridges", json={"document_id": paris_doc["id"]}).json()
        assert result["target_offices"] == ["Boston"]
        assert result["bridges"][0]["document"]["id"] == boston_doc["id"]
        assert offices_in(both.get("/bridges/map").json()) <= {"Paris", "Boston"}


def test_request_bodies_have_a_size_limit(server: httpx.Client) -> None:
    huge = {"query": "x", "padding": "y" * 2_000_000}
    response = server.post("/search", json=huge)
    assert response.status_code == 413 and "too large" in response.json()["detail"]

    def chunks():  # no Content-Length: the limit still holds while reading
        for _ in range(40):
            yield b"y" * 100_000

    response = server.post("/search", content=chunks(),
                           headers={"content-type": "application/json"})
    assert response.status_code == 413


@contextmanager
def signed_in(server: httpx.Client, key: str) -> Iterator[httpx.Client]:
    """A browser-like client (cookies, no key header) that signed in with ``key``."""
    with httpx.Client(base_url=server.base_url, timeout=120) as browser:
        form = browser.get("/sign-in").text
        token = form.split('name="csrf" value="')[1].split('"')[0]
        response = browser.post("/sign-in", data={"key": key, "next": "/", "csrf": token})
        assert response.status_code == 303, response.text
        yield browser


def test_a_session_cookie_opens_the_pages_never_the_json_api(
        server: httpx.Client, keys: dict[str, str]) -> None:
    with signed_in(server, keys["paris"]) as browser:
        session = browser.cookies["bridge_session"]
        assert session != keys["paris"] and len(session) >= 40
        assert browser.get("/").status_code == 200
        assert browser.get("/map").status_code == 200
        for method, path, body, _ in ROUTES:
            if path == "/documents/1/file":
                continue  # what the pages link to: the session reads it (404: not Paris's)
            response = call(server, method, path, body, {"Cookie": f"bridge_session={session}"})
            assert response.status_code == 401, (method, path, response.status_code)


def test_signing_in_and_out_needs_the_forms_token(server: httpx.Client,
                                                  keys: dict[str, str]) -> None:
    forged = httpx.post(f"{server.base_url}/sign-in", data={"key": keys["read"], "next": "/"})
    assert forged.status_code == 403 and "bridge_session" not in forged.cookies
    with signed_in(server, keys["read"]) as browser:
        assert browser.post("/sign-out", data={"csrf": "forged"}).status_code == 403
        assert browser.get("/").status_code == 200  # still signed in
        page = browser.get("/").text
        token = page.split('name="csrf" value="')[1].split('"')[0]
        assert browser.post("/sign-out", data={"csrf": token}).status_code == 303
        assert browser.get("/").status_code == 303  # the session is over


def test_revoking_a_key_ends_its_sessions(server: httpx.Client, env: dict[str, str]) -> None:
    key = create_key(env, "short-lived", "read")
    with signed_in(server, key) as browser:
        assert browser.get("/").status_code == 200
        listed = subprocess.run([*BRIDGE, "keys", "list"], env=env, capture_output=True,
                                text=True, check=True).stdout
        key_id = next(line for line in listed.splitlines() if "short-lived" in line).split()[0]
        subprocess.run([*BRIDGE, "keys", "revoke", key_id.lstrip("#")], env=env, check=True,
                       capture_output=True)
        assert browser.get("/").status_code == 303


def test_the_session_cookie_is_secure_behind_an_https_proxy(server: httpx.Client,
                                                           keys: dict[str, str]) -> None:
    """uvicorn believes X-Forwarded-Proto from a proxy on this machine (its default)."""
    browser = httpx.Client(base_url=server.base_url, timeout=120,
                           headers={"X-Forwarded-Proto": "https"})
    with browser:
        form = browser.get("/sign-in")
        assert "secure" in form.headers["set-cookie"].lower()
        token = form.text.split('name="csrf" value="')[1].split('"')[0]
        browser.cookies.set("bridge_csrf", form.cookies["bridge_csrf"])
        response = browser.post("/sign-in", data={"key": keys["read"], "csrf": token})
        cookie = response.headers["set-cookie"].lower()
        assert cookie.startswith("bridge_session=") and "secure" in cookie
        assert "httponly" in cookie and "samesite=strict" in cookie
