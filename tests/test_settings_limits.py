"""The request limits are the server's settings: BRIDGE_MAX_K, BRIDGE_DEFAULT_K and
BRIDGE_MAX_QUERY_CHARS decide what a search may ask, in the API, the OpenAPI schema and
the web page alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.keys import KeyStore, Scope
from search.database import Database
from search.settings import Settings

MAX_K, DEFAULT_K, MAX_QUERY_CHARS = 7, 5, 40


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app started with the limits set in the environment, as an operator sets them."""
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("BRIDGE_MAX_K", str(MAX_K))
        environment.setenv("BRIDGE_DEFAULT_K", str(DEFAULT_K))
        environment.setenv("BRIDGE_MAX_QUERY_CHARS", str(MAX_QUERY_CHARS))
        settings = Settings(data_dir=tmp_path_factory.mktemp("limits"))
    _, secret = KeyStore(Database(settings.db_path)).create("tests", [Scope.read])
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {secret}"}) as c:
        yield c


def test_k_beyond_max_k_is_refused(client: TestClient) -> None:
    refused = client.post("/search", json={"query": "weight", "k": MAX_K + 1})
    assert refused.status_code == 422
    assert refused.json()["detail"] == f"k: Input should be less than or equal to {MAX_K}"
    assert refused.json()["errors"][0]["loc"] == ["body", "k"]
    accepted = client.post("/search", json={"query": "weight", "k": MAX_K})
    assert accepted.status_code == 200 and accepted.json()["k"] == MAX_K


def test_k_defaults_to_default_k(client: TestClient) -> None:
    assert client.post("/search", json={"query": "weight"}).json()["k"] == DEFAULT_K


def test_a_query_beyond_max_query_chars_is_refused(client: TestClient) -> None:
    refused = client.post("/search", json={"query": "x" * (MAX_QUERY_CHARS + 1)})
    assert refused.status_code == 422
    assert refused.json()["detail"] == \
        f"query: String should have at most {MAX_QUERY_CHARS} characters"
    assert client.post("/search", json={"query": "x" * MAX_QUERY_CHARS}).status_code == 200
    finding = client.post("/bridges", json={"text": "x" * (MAX_QUERY_CHARS + 1)})
    assert finding.status_code == 422 and finding.json()["errors"][0]["loc"] == ["body", "text"]


def test_the_web_page_holds_its_query_to_the_same_limit(client: TestClient) -> None:
    page = client.get("/", params={"q": "x" * (MAX_QUERY_CHARS + 1)})
    assert page.status_code == 422
    assert f"the limit is {MAX_QUERY_CHARS}" in page.text


def test_the_schema_states_the_configured_limits(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    search = schemas["SearchRequest"]["properties"]
    assert (search["k"]["maximum"], search["k"]["default"]) == (MAX_K, DEFAULT_K)
    assert search["query"]["maxLength"] == MAX_QUERY_CHARS
    assert schemas["BridgeRequest"]["properties"]["text"]["maxLength"] == MAX_QUERY_CHARS


def test_every_setting_is_read_somewhere() -> None:
    """A setting nobody reads would be a knob that does nothing."""
    root = Path(__file__).resolve().parent.parent
    packages = ("api", "evaluation", "ingest", "search")
    code = "\n".join(path.read_text(encoding="utf-8") for package in packages
                     for path in (root / package).rglob("*.py") if path.name != "settings.py")
    unread = [name for name in Settings.model_fields if f".{name}" not in code]
    assert not unread
