"""Observability against a real `bridge serve`: /ready, /metrics, request ids, JSON logs.

One server with ``BRIDGE_LOG_JSON=1`` on a data directory of its own: it starts empty
(so /ready must say 503), then `bridge ingest` publishes three small Markdown notes
from another process while it runs (so /ready must turn 200 without a restart).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from api.local_server import BRIDGE, bridge_server

NOTES = {
    "heart-failure.md": "# Heart failure telemonitoring\n\nA weight gain of 2 kg in 3 days "
    "triggers a nurse call within 24 hours; readmissions fell by a third.\n",
    "ehr-pilots.md": "# Remote monitoring pilots\n\nPilots that live in a separate vendor "
    "portal die; those integrated into the hospital EHR survive.\n",
    "cgm-visit.md": "# Riverside CGM site visit\n\nContinuous glucose monitors cut "
    "hypoglycaemia alerts when nurses review the data weekly.\n",
}
HEX_ID = re.compile(r"[0-9a-f]{32}")


@dataclass
class Served:
    client: httpx.Client
    log_path: Path
    ready_before_ingest: httpx.Response
    ingest_report: dict
    ingest_window: tuple[float, float]  # unix times around `bridge ingest`


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("observability")
    notes = root / "notes"
    notes.mkdir()
    for name, text in NOTES.items():
        (notes / name).write_text(text, encoding="utf-8")
    env = {**os.environ, "BRIDGE_DATA_DIR": str(root / "data"), "BRIDGE_LOG_JSON": "1"}
    log_path = root / "serve.log"
    with bridge_server(env, log_path=log_path) as client:
        before = client.get("/ready")
        started = time.time()
        run = subprocess.run([*BRIDGE, "ingest", str(notes), "--office", "Boston", "--json"],
                             env=env, capture_output=True, text=True, timeout=600, check=True)
        yield Served(client, log_path, before, json.loads(run.stdout), (started, time.time()))


def scrape(client: httpx.Client) -> list[Sample]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return [s for family in text_string_to_metric_families(response.text)
            for s in family.samples]


def value(samples: list[Sample], name: str, **labels: str) -> float | None:
    """The sum of ``name``'s samples carrying ``labels``; None when there is none."""
    found = [s.value for s in samples
             if s.name == name and labels.items() <= s.labels.items()]
    return sum(found) if found else None


# --- /ready ------------------------------------------------------------------------------
def test_ready_is_503_until_a_generation_is_loaded(served: Served) -> None:
    before = served.ready_before_ingest
    assert before.status_code == 503
    assert before.json()["status"] == "not_ready" and "ingest" in before.json()["detail"]
    after = served.client.get("/ready")
    assert after.status_code == 200, after.text
    assert after.json() == {"status": "ready",
                            "generation": served.client.get("/health").json()["generation"]}
    assert after.json()["generation"] >= 1


# --- /metrics ----------------------------------------------------------------------------
def test_requests_are_counted_per_route_template(served: Served) -> None:
    client = served.client
    ids = [d["id"] for d in client.get("/documents").json()["documents"]][:2]
    before = scrape(client)
    for doc_id in ids:
        assert client.get(f"/documents/{doc_id}").status_code == 200
    assert client.get("/documents/999999").status_code == 404
    assert client.get(f"/no/such/path/{ids[0]}").status_code == 404
    after = scrape(client)

    def grew(name: str, **labels: str) -> float:
        return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)

    route = {"handler": "/documents/{doc_id}", "method": "GET"}
    assert grew("http_requests_total", **route, status="2xx") == len(ids)
    assert grew("http_requests_total", **route, status="4xx") == 1
    assert grew("http_requests_total", handler="none", status="4xx") == 1
    assert grew("http_request_duration_seconds_count", **route) == len(ids) + 1
    assert value(after, "http_request_duration_seconds_bucket", **route, le="+Inf") \
        == value(after, "http_request_duration_seconds_count", **route)
    handlers = {s.labels["handler"] for s in after if "handler" in s.labels}
    assert not any(re.search(r"/\d+$", h) for h in handlers), handlers


def test_search_latency_is_observed_per_mode(served: Served) -> None:
    client = served.client
    before = scrape(client)
    for mode in ("dense", "lexical"):
        response = client.post("/search", json={"query": "weight gain alert", "mode": mode})
        assert response.status_code == 200, response.text
    assert client.post("/search", json={"query": "weight gain alert"}).json()["mode"] == "hybrid"
    assert client.post("/search", json={"query": "x", "mode": "fuzzy"}).status_code == 422
    after = scrape(client)
    for mode in ("dense", "lexical", "hybrid"):
        grown = (value(after, "bridge_search_duration_seconds_count", mode=mode)
                 - value(before, "bridge_search_duration_seconds_count", mode=mode))
        assert grown == 1, mode
        assert value(after, "bridge_search_duration_seconds_sum", mode=mode) > 0
    assert value(after, "bridge_search_duration_seconds_count", mode="fuzzy") is None


def test_index_gauges_equal_what_is_stored(served: Served) -> None:
    health = served.client.get("/health").json()
    documents = served.client.get("/documents", params={"limit": 200}).json()["documents"]
    chunks = sum(d["n_chunks"] for d in documents)
    samples = scrape(served.client)
    assert value(samples, "bridge_index_documents") == len(documents) == len(NOTES)
    assert value(samples, "bridge_index_chunks") == chunks
    assert value(samples, "bridge_index_vectors") == chunks
    assert value(samples, "bridge_index_generation") == health["generation"]


def test_last_run_gauges_describe_the_ingest(served: Served) -> None:
    samples = scrape(served.client)
    run = served.client.get("/admin/runs", params={"limit": 1}).json()[0]
    assert value(samples, "bridge_last_run_id") == run["id"]
    started, ended = served.ingest_window
    start = value(samples, "bridge_last_run_start_time_seconds")
    end = value(samples, "bridge_last_run_end_time_seconds")
    assert start == dt.datetime.fromisoformat(run["started_at"]).timestamp()
    assert end == dt.datetime.fromisoformat(run["finished_at"]).timestamp()
    assert int(started) - 1 <= start <= end <= ended + 1  # stored to the second
    statuses = {s.labels["status"]: s.value for s in samples
                if s.name == "bridge_last_run_status"}
    assert statuses == {"running": 0, "finished": 1, "failed": 0, "interrupted": 0}
    assert value(samples, "bridge_last_run_files_failed") == 0
    assert value(samples, "bridge_last_run_chunks_indexed") \
        == served.ingest_report["chunks_indexed"] > 0


# --- request ids and logs ------------------------------------------------------------------
def test_request_id_is_echoed_when_sane_else_generated(served: Served) -> None:
    client = served.client
    sane = "Obs-test_1.2-" + "a" * 115  # 128 characters
    assert client.get("/health", headers={"X-Request-ID": sane}).headers["X-Request-ID"] == sane
    generated = {client.get("/health").headers["X-Request-ID"] for _ in range(2)}
    assert len(generated) == 2 and all(HEX_ID.fullmatch(g) for g in generated)
    for bad in ("a" * 129, "two words", "semi;colon", "a/b"):
        echoed = client.get("/health", headers={"X-Request-ID": bad}).headers["X-Request-ID"]
        assert HEX_ID.fullmatch(echoed), bad
    assert HEX_ID.fullmatch(client.get("/no/such/path").headers["X-Request-ID"])


def log_records(path: Path, request_id: str, timeout_s: float = 10) -> list[dict]:
    """The JSON log records carrying ``request_id``, once one is there.

    The access line is written as the response ends, so it may trail the response a little.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines()
                 if request_id in line]
        if lines or time.monotonic() > deadline:
            return [json.loads(line) for line in lines]
        time.sleep(0.1)


def test_json_logs_carry_the_request_id(served: Served) -> None:
    request_id = f"json-log-{time.time_ns()}"
    response = served.client.get("/documents", params={"limit": 1},
                                 headers={"X-Request-ID": request_id})
    assert response.status_code == 200
    records = log_records(served.log_path, request_id)
    access = [r for r in records if r.get("logger") == "api.access"]
    assert len(access) == 1, records
    record = access[0]
    assert record["request_id"] == request_id
    assert record["level"] == "INFO"
    assert (record["method"], record["route"], record["status"]) == ("GET", "/documents", 200)
    assert record["duration_ms"] > 0 and request_id in record["message"]
    assert dt.datetime.fromisoformat(record["time"]).tzinfo is not None
    startup = [line for line in served.log_path.read_text(encoding="utf-8").splitlines()
               if "Application startup complete" in line]
    assert startup and json.loads(startup[0])["logger"].startswith("uvicorn")
    assert "uvicorn.access" not in served.log_path.read_text(encoding="utf-8")
