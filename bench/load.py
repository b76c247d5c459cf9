"""Throughput and latency of a real `bridge serve` under 1, 8 and 32 concurrent users (locust).

    python -m bench.load [--data-dir DIR] [--seconds 20] [--users 1 8 32] [--api-key KEY]
        [--profile mixed|search] [--json-out FILE]

1. without --data-dir, ingests corpus/ (``bridge ingest corpus/``) into a new temporary data
   directory; with it, serves that directory (already ingested) as it is;
2. starts ``bridge serve`` on loopback over it (``api.local_server.bridge_server``), lists the
   document ids (GET /documents) and sends every kind of request once, unmeasured (the
   first bridge query embeds its words: about 2 s);
3. for each user count, runs locust as a library (a headless ``LocalRunner`` of
   ``FastHttpUser``s with no think time: each user sends its next request as soon as its last
   one is answered) for --seconds, counted once every user has started. Each user picks
   POST /search 6 times in 10 (a query of corpus/planted.yaml or corpus/eval_queries.yaml,
   k=10, mode dense, lexical or hybrid at random), GET /documents 3 in 10 (a page of 20 at a
   random offset) and POST /bridges 1 in 10 (a random document id, k=10); with
   ``--profile search``, every request is a default-mode POST /search (k=10);
4. prints per level the requests per second, p50 and p99 latency (locust's: exact to the
   millisecond below 100 ms, then to 2 significant digits) and the errors (a non-2xx answer
   or no answer, the 429s of a saturated server included; goal 0), then one JSON object
   with every figure, per request kind too (written to --json-out as well).

Locust runs in this process and the server in another on the same machine: on a small one
they share its cores, so the figures are a floor; the load average is recorded per level.
``--api-key KEY`` sends ``Authorization: Bearer KEY``; without it, the requests carry the key
``bridge_server`` made for its own client, if it made one.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from locust import FastHttpUser, constant, task
from locust.env import Environment
from locust.stats import StatsEntry

from api.local_server import BRIDGE, bridge_server
from bench.common import CORPUS, corpus_queries, emit, load_average

if TYPE_CHECKING:  # imported at run time by api.local_server, after locust's gevent patching
    import httpx

USERS = (1, 8, 32)
MODES = ("dense", "lexical", "hybrid")
PAGE = 20


@dataclass(frozen=True)
class Workload:
    """What the users ask for, and the headers every request carries."""

    queries: list[str]
    document_ids: list[int]
    headers: dict[str, str]
    searches_only: bool = False


def user_class(workload: Workload) -> type[FastHttpUser]:
    """A locust user drawing its requests from ``workload``."""
    if workload.searches_only:
        return _searching_user(workload)

    class BridgeUser(FastHttpUser):
        wait_time = constant(0)

        @task(6)
        def search(self) -> None:
            mode = random.choice(MODES)
            self.client.post("/search", name=f"/search {mode}", headers=workload.headers,
                             json={"query": random.choice(workload.queries), "k": 10,
                                   "mode": mode})

        @task(3)
        def documents(self) -> None:
            offset = random.randrange(max(1, len(workload.document_ids) - PAGE + 1))
            self.client.get(f"/documents?limit={PAGE}&offset={offset}", name="/documents",
                            headers=workload.headers)

        @task(1)
        def bridges(self) -> None:
            self.client.post("/bridges", name="/bridges", headers=workload.headers,
                             json={"document_id": random.choice(workload.document_ids),
                                   "k": 10})

    return BridgeUser


def _searching_user(workload: Workload) -> type[FastHttpUser]:
    class SearchingUser(FastHttpUser):
        wait_time = constant(0)

        @task
        def search(self) -> None:
            self.client.post("/search", name="/search default", headers=workload.headers,
                             json={"query": random.choice(workload.queries), "k": 10})

    return SearchingUser


def figures(entry: StatsEntry, seconds: float) -> dict[str, Any]:
    return {"requests": entry.num_requests, "errors": entry.num_failures,
            "rps": round(entry.num_requests / seconds, 1),
            "p50_ms": entry.get_response_time_percentile(0.5),
            "p99_ms": entry.get_response_time_percentile(0.99),
            "mean_ms": round(entry.avg_response_time, 1)}


def run_level(url: str, workload: Workload, users: int, seconds: float) -> dict[str, Any]:
    """``users`` users for ``seconds`` once all have started; their figures."""
    env = Environment(user_classes=[user_class(workload)], host=url)
    runner = env.create_local_runner()
    runner.start(users, spawn_rate=users)
    runner.spawning_greenlet.join()
    env.stats.reset_all()  # the ramp-up is not measured
    started = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    result = {"users": users, "seconds": round(elapsed, 1), **figures(env.stats.total, elapsed),
              "by_request": {e.name: figures(e, elapsed)
                             for e in sorted(env.stats.entries.values(), key=lambda e: e.name)},
              "error_kinds": {f"{e.method} {e.name}: {e.error}": e.occurrences
                              for e in env.stats.errors.values()},
              "load_average": load_average()}
    runner.quit()
    return result


def ingest_corpus(env: dict[str, str]) -> dict[str, Any]:
    started = time.perf_counter()
    run = subprocess.run([*BRIDGE, "ingest", str(CORPUS), "--json"], env=env,
                         capture_output=True, text=True, timeout=3600, check=True)
    report = json.loads(run.stdout)
    return {"seconds": round(time.perf_counter() - started, 1), "files": len(report["added"]),
            "chunks": report["chunks_indexed"]}


def warm_up(client: httpx.Client, workload: Workload) -> None:
    """Every kind of request once, so that no level pays for a first call's loading."""
    for mode in MODES:
        client.post("/search", json={"query": workload.queries[0], "mode": mode},
                    headers=workload.headers).raise_for_status()
    client.get("/documents", headers=workload.headers).raise_for_status()
    client.post("/bridges", json={"document_id": workload.document_ids[0]},
                headers=workload.headers).raise_for_status()


def document_ids(client: httpx.Client, headers: dict[str, str]) -> list[int]:
    response = client.get("/documents", params={"limit": 200}, headers=headers)
    response.raise_for_status()
    ids = [d["id"] for d in response.json()["documents"]]
    if not ids:
        raise SystemExit("the data directory holds no documents: ingest some first")
    return ids


def print_level(level: dict[str, Any]) -> None:
    print(f"{level['users']:>3} users: {level['rps']:7.1f} req/s  p50 {level['p50_ms']:>5} ms"
          f"  p99 {level['p99_ms']:>5} ms  errors {level['errors']}"
          f"  (load average {level['load_average'][0]})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path,
                        help="an ingested data directory (default: ingest corpus/ into a new one)")
    parser.add_argument("--seconds", type=float, default=20, help="measured seconds per level")
    parser.add_argument("--users", type=int, nargs="+", default=list(USERS))
    parser.add_argument("--api-key", help="sent as 'Authorization: Bearer KEY'")
    parser.add_argument("--profile", choices=["mixed", "search"], default="mixed")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="bridge-load-"))
    env = {**os.environ, "BRIDGE_DATA_DIR": str(data_dir)}
    ingest = None if args.data_dir else ingest_corpus(env)
    with bridge_server(env) as client:
        auth = f"Bearer {args.api_key}" if args.api_key else client.headers.get("Authorization")
        headers = {"Authorization": auth} if auth else {}
        workload = Workload(corpus_queries(), document_ids(client, headers), headers,
                            searches_only=args.profile == "search")
        warm_up(client, workload)
        levels = []
        for users in args.users:
            levels.append(run_level(str(client.base_url), workload, users, args.seconds))
            print_level(levels[-1])
    emit({"benchmark": "load", "profile": args.profile, "data_dir": str(data_dir), "ingest": ingest,
          "documents": len(workload.document_ids), "queries": len(workload.queries),
          "seconds_per_level": args.seconds, "levels": levels}, args.json_out)


if __name__ == "__main__":
    main()
