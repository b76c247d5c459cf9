"""Search over HTTP while a re-index runs: the phase of ``bench.reindex`` that shows whether
readers notice a re-index.

``bench.reindex`` starts ``bridge serve`` on the data directory it ingested and runs search
clients (``bench.reindex_load``): first for a while with no re-index, as the baseline, then
while a re-index started with ``POST /admin/reindex`` runs (the corpus changed first:
``bench.reindex_corpus.make_changes``), until ``GET /admin/runs/{id}`` says it ended. It
records the run's report and the index generation before, during and after; then, with no
load, checks that the hits of a sample of claims name files that exist, under the office of
their new source folder, since a re-index that moved files must not leave hits pointing at
their old place.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import httpx

from api.local_server import bridge_server
from bench.common import index_counts, load_average
from bench.reindex_corpus import Corpus, make_changes
from bench.reindex_in_process import report_figures
from bench.reindex_load import LoadStats, check_response, load
from search.records import RunReport

RUN_TIMEOUT_S = 3600
POLL_S = 1.0


def check_paths(client: httpx.Client, queries: list[str], corpus: Path) -> dict[str, Any]:
    """After the run: every hit well-formed and naming a file that exists, with its office
    (the API names a file by its source, "boston" or "paris", and its path in it)."""
    hits, missing, malformed, wrong_office = 0, [], 0, 0
    for query in queries:
        response = client.post("/search", json={"query": query, "k": 10})
        problem, found = (check_response(response.json(), 10) if response.status_code == 200
                          else (f"HTTP {response.status_code}", []))
        malformed += problem is not None
        for hit in found:
            hits += 1
            path = corpus / hit["document"]["source_path"]
            if not path.exists():
                missing.append(str(path))
            wrong_office += hit["document"].get("office") != (
                "Paris" if "paris" in path.parts else "Boston")
    return {"queries": len(queries), "hits": hits, "malformed": malformed,
            "hits_to_missing_files": len(missing), "missing_samples": missing[:3],
            "hits_with_wrong_office": wrong_office}


def generation(client: httpx.Client) -> int:
    return int(client.get("/health").json()["generation"])


def search_under_load(corpus: Corpus, data_dir: Path, queries: list[str], clients: int,
                      load_seconds: float, change_percent: float, skip: Path) -> dict[str, Any]:
    """``clients`` searching ``load_seconds`` with no re-index, then through a re-index of the
    changed corpus (``skip``, the file already edited, is left out of the edits); the server
    runs without its schedule, so that only the re-index started here runs."""
    env = {k: v for k, v in os.environ.items() if k != "BRIDGE_REINDEX_CRON"}
    env.update(BRIDGE_DATA_DIR=str(data_dir), BRIDGE_SOURCES_FILE=str(corpus.sources_file))
    result: dict[str, Any] = {"clients": clients}
    with bridge_server(env, log_path=corpus.workdir / "server.log") as admin:
        base_url, headers = str(admin.base_url).rstrip("/"), dict(admin.headers)
        admin.post("/search", json={"query": queries[0], "k": 10}).raise_for_status()  # warm-up

        baseline = LoadStats()
        result["baseline_load_avg_before"] = load_average()
        with load(base_url, headers, queries, clients, baseline):
            started = time.perf_counter()
            time.sleep(load_seconds)
        result["baseline"] = baseline.summary(time.perf_counter() - started)
        result["baseline_load_avg_after"] = load_average()

        result["changes"] = make_changes(corpus, change_percent, skip)
        result["generation_before"] = generation(admin)
        health_before = {**admin.get("/health").json(), **index_counts(admin)}
        during = LoadStats()
        seen = {result["generation_before"]}
        result["reindex_load_avg_before"] = load_average()
        started = time.perf_counter()
        response = admin.post("/admin/reindex")
        response.raise_for_status()
        run_id = int(response.json()["run_id"])
        with load(base_url, headers, queries, clients, during, sample_hits=True):
            while True:
                time.sleep(POLL_S)
                record = admin.get(f"/admin/runs/{run_id}").json()
                seen.add(generation(admin))
                if record["status"] != "running":
                    break
                if time.perf_counter() - started > RUN_TIMEOUT_S:
                    raise RuntimeError(f"run {run_id} still running after {RUN_TIMEOUT_S}s")
            loaded_s = time.perf_counter() - started
        result["during_reindex"] = during.summary(loaded_s)
        result["reindex_load_avg_after"] = load_average()
        health_after = {**admin.get("/health").json(), **index_counts(admin)}
        result["after_run"] = check_paths(admin, queries[::max(1, len(queries) // 50)],
                                          corpus.root)
        report = RunReport.model_validate(record["report"]) if record["report"] else None
        result["reindex_run"] = {
            "run_id": run_id, "status": record["status"], "error": record["error"],
            "wall_seconds_until_seen_finished": round(loaded_s, 1),
            "summary": report.summary() if report else None,
            **(report_figures(report) if report else {}),
        }
        result["generation_after"] = health_after["generation"]
        result["generations_seen_during_run"] = sorted(seen)
        result["health_before"] = {k: health_before[k] for k in ("documents", "chunks")}
        result["health_after"] = {k: health_after[k] for k in ("documents", "chunks")}
    return result
