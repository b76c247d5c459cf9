"""Bridges, near-duplicates and the bridge map, end to end over the sample corpus.

The real server (``server`` in conftest.py) answers over ``corpus/``, whose
planted findings (corpus/planted.yaml) are the same finding reached by Boston
and by one European office, in different documents and languages. The corpus
also holds two near-duplicates on purpose: Berlin's Silentia deck as shared
with Madrid, and a French translation of a Boston note in Paris.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

from api.local_server import BRIDGE
from tests.helpers import CORPUS

PLANTED = yaml.safe_load((CORPUS / "planted.yaml").read_text(encoding="utf-8"))
SILENTIA_BERLIN = "berlin/decks/2023-10-silentia-deck.pdf"
SILENTIA_MADRID = "madrid/decks/2023-11-silentia-deck-compartido.pdf"
PIPELINE_BOSTON = "boston/notes/2023-05-30-pipeline-review-q2.md"
PIPELINE_PARIS = "paris/notes/2023-06-05-revue-pipeline-boston-t2.md"


@pytest.fixture(scope="module")
def documents(server: httpx.Client) -> dict[str, dict]:
    """Every stored document by its path relative to corpus/."""
    page = server.get("/documents", params={"limit": 200}).json()
    root = "corpus/"  # the API names files by their source: corpus/ or its offices
    return {d["source_path"].removeprefix(root): d for d in page["documents"]}


def bridge(server: httpx.Client, **body: object) -> dict:
    response = server.post("/bridges", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def bridged_paths(result: dict) -> list[str]:
    """Paths relative to corpus/: the API names files by their source (corpus/ or its
    offices), the operator's CLI by their place on the server."""
    roots = (str(CORPUS.resolve()) + "/", "corpus/")
    return [b["document"]["source_path"].removeprefix(roots[0]).removeprefix(roots[1])
            for b in result["bridges"]]


@pytest.mark.parametrize("finding", PLANTED, ids=[f["id"] for f in PLANTED])
def test_every_planted_finding_bridges_from_either_side(server: httpx.Client,
                                                         documents: dict[str, dict],
                                                         finding: dict) -> None:
    for source, target in (("boston", "europe"), ("europe", "boston")):
        result = bridge(server, document_id=documents[finding[source]]["id"], k=5)
        assert finding[target] in bridged_paths(result)[:3], (source, bridged_paths(result))


def test_no_document_bridges_to_its_own_office(server: httpx.Client,
                                               documents: dict[str, dict]) -> None:
    for path, document in documents.items():
        result = bridge(server, document_id=document["id"], k=5, passages=1)
        assert result["source"]["office"] == document["office"]
        assert document["office"] not in result["target_offices"]
        assert result["bridges"], path
        for found in result["bridges"]:
            offices = {found["document"]["office"]} | {d["office"] for d in found["also_in"]}
            assert document["office"] not in offices, path
            assert found["document"]["id"] != document["id"]


def test_a_bridge_says_why_it_matched(server: httpx.Client, documents: dict[str, dict]) -> None:
    finding = next(f for f in PLANTED if f["id"] == "hf-weight-alert")
    result = bridge(server, document_id=documents[finding["boston"]]["id"], k=3)
    top = result["bridges"][0]
    assert bridged_paths(result)[0] == finding["europe"]
    best = top["passages"][0]
    assert (best["source"]["language"], best["target"]["language"]) == ("en", "de")
    assert best["source"]["provenance"]["start_s"] >= 0  # a moment of the VTT interview
    assert best["score"] == top["score"] and 0 < best["similarity"] <= 1
    shared = {(t["source"].lower(), t["target"].lower()): t for t in best["shared_terms"]}
    assert ("2", "2") in shared and shared[("2", "2")]["exact"]
    assert any(not t["exact"] for t in best["shared_terms"])  # paired by meaning
    assert ("weight", "gewicht") in shared  # "weight" in English is "Gewicht" in German
    # passages come best first, and each is a different chunk of the Berlin report
    scores = [p["score"] for p in top["passages"]]
    assert scores == sorted(scores, reverse=True)
    assert len({p["target"]["chunk_id"] for p in top["passages"]}) == len(top["passages"])


def test_text_and_chunk_bridges_reach_only_the_offices_asked(
        server: httpx.Client, documents: dict[str, dict]) -> None:
    for finding in PLANTED:
        result = bridge(server, text=finding["query_local"], office=finding["europe_office"],
                        target_offices=["boston"], k=3, passages=1)
        assert result["source"]["kind"] == "text"
        assert result["target_offices"] == ["Boston"]
        assert {b["document"]["office"] for b in result["bridges"]} == {"Boston"}
        assert bridged_paths(result)[0] == finding["boston"], finding["id"]
    chunk = server.get(f"/documents/{documents[PLANTED[0]['boston']]['id']}").json()["chunks"][0]
    result = bridge(server, chunk_id=chunk["id"], office="Madrid", k=3)
    assert result["source"]["office"] == "Boston"  # the chunk's own office wins
    assert result["bridges"] and all(b["document"]["office"] != "Boston"
                                     for b in result["bridges"])


@pytest.mark.parametrize(("body", "status"), [
    ({}, 422),
    ({"document_id": 1, "text": "x"}, 422),
    ({"document_id": 0}, 404),  # ids are tokens: a number names nothing
    ({"document_id": 999_999}, 404),
    ({"chunk_id": 999_999}, 404),
    ({"text": ""}, 422),
    ({"text": "x" * 5000}, 422),
    ({"text": "x", "k": 0}, 422),
    ({"text": "x", "passages": 11}, 422),
    ({"text": "x", "target_offices": ["x"] * 51}, 422),
    ({"text": "x", "colour": "red"}, 422),
    ({"text": "\ud800 lone surrogate"}, 200),
    ({"text": "heart failure", "target_offices": ["Atlantis"]}, 200),
])
def test_bad_bridge_requests_get_a_4xx_with_a_message(server: httpx.Client, body: dict,
                                                      status: int) -> None:
    response = server.post("/bridges", content=json.dumps(body),
                           headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    if status >= 400:
        assert response.json()["detail"]
    elif "Atlantis" in body.get("target_offices", []):
        assert response.json()["bridges"] == [] and response.json()["target_offices"] == []


def test_near_duplicates_are_listed_and_folded(server: httpx.Client,
                                               documents: dict[str, dict]) -> None:
    for path, twin, translated in ((SILENTIA_BERLIN, SILENTIA_MADRID, False),
                                   (PIPELINE_BOSTON, PIPELINE_PARIS, True)):
        detail = server.get(f"/documents/{documents[path]['id']}").json()
        listed = {d["document"]["id"]: d for d in detail["near_duplicates"]}
        assert set(listed) == {documents[twin]["id"]}, path
        assert listed[documents[twin]["id"]]["translated"] is translated
        assert listed[documents[twin]["id"]]["coverage"] >= 0.6
    # a document with no copy lists none
    lone = server.get(f"/documents/{documents[PLANTED[0]['boston']]['id']}").json()
    assert lone["near_duplicates"] == []
    # search results fold the copy into the first of the two
    groups = server.post("/search", json={"query": "tinnitus therapy DiGA deck", "k": 10,
                                          "group_by_document": True}).json()["documents"]
    silentia = [g for g in groups if g["document"]["id"] in
                (documents[SILENTIA_BERLIN]["id"], documents[SILENTIA_MADRID]["id"])]
    assert len(silentia) == 1 and len(silentia[0]["also_in"]) == 1
    # and the translation is the Boston note's first bridge
    result = bridge(server, document_id=documents[PIPELINE_BOSTON]["id"], k=3)
    assert bridged_paths(result)[0] == PIPELINE_PARIS


def test_the_bridge_map(server: httpx.Client) -> None:
    response = server.get("/bridges/map")
    assert response.status_code == 200, response.text
    bridge_map = response.json()
    offices = {o["office"]: o for o in bridge_map["offices"]}
    assert set(offices) == {"Boston", "Paris", "Berlin", "Madrid"}
    assert len(bridge_map["links"]) == 6  # every pair of the four offices
    assert all(0 <= link["strength"] <= 1 for link in bridge_map["links"])
    themes = {t["id"]: t for t in bridge_map["themes"]}
    assert len(themes) >= 4 and all(t["labels"] for t in themes.values())
    assert sum(t["chunks"] for t in themes.values()) == sum(o["chunks"] for o in offices.values())
    for office in offices.values():
        assert not set(office["shared"]) & set(office["only"])
        for theme in office["only"]:  # nobody else covers it
            assert themes[theme]["offices"][office["office"]] >= 2
    # the shared Silentia deck ties Berlin to Madrid on tinnitus themes
    link = next(x for x in bridge_map["links"] if set(x["offices"]) == {"Berlin", "Madrid"})
    tinnitus = [t for t in link["themes"] if "tinnitus" in themes[t["theme"]]["labels"]
                .get("en", [])]
    assert sum(t["bridges"] for t in tinnitus) >= 3

    page = server.get("/bridges/map", params={"format": "html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert all(name in page.text for name in offices)
    assert 'src="/static/plotly.min.js"' in page.text
    script = server.get("/static/plotly.min.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert server.get("/bridges/map", params={"format": "pdf"}).status_code == 422


def test_cli_bridges_and_map(env: dict[str, str], ingest_report: dict,
                             documents: dict[str, dict], tmp_path: Path) -> None:
    finding = PLANTED[1]
    run = subprocess.run([*BRIDGE, "bridges", "--document",
                          str(documents[finding["europe"]]["id"]), "--k", "3", "--json"],
                         env=env, capture_output=True, text=True, timeout=300, check=True)
    assert finding["boston"] in bridged_paths(json.loads(run.stdout))
    page = tmp_path / "map.html"
    run = subprocess.run([*BRIDGE, "map", "--html", str(page)], env=env, capture_output=True,
                         text=True, timeout=300, check=True)
    html = page.read_text(encoding="utf-8")
    assert "Berlin" in html and "plotly.js v" in html  # one file that opens offline
    bad = subprocess.run([*BRIDGE, "bridges", "--document", "1", "--text", "x"], env=env,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "exactly one" in bad.stderr
