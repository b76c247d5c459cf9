"""Re-indexing cost, and search over HTTP while a re-index runs, on BEIR SciFact.

    python -m bench.reindex [--data ../shared/data/scifact_train] [--docs 5000]
        [--workdir DIR] [--clients 8] [--load-seconds 20] [--change-percent 3]
        [--json-out FILE]

1. writes the first --docs SciFact abstracts as Markdown (``# title``, then the text) under
   WORKDIR/corpus/ in 10 folders (boston/part-00..04, paris/part-05..09) and a sources file
   WORKDIR/sources.yaml listing them as two sources, "boston" and "paris" (WORKDIR defaults
   to a new temporary folder; nothing is written inside the repository);
2. full first ingest: ``api.reindex.reindex`` in process into WORKDIR/data: seconds, chunks;
3. re-indexes the unchanged corpus 3 times: median seconds, chunks embedded (should be 0)
   and that time as a share of the full ingest (goal: under 3%);
4. appends a sentence to one document and re-indexes: chunks embedded against the file's
   chunk count (goal: only its changed chunks), seconds;
5. starts ``bridge serve`` on WORKDIR/data and runs --clients threads (one httpx client each)
   sending POST /search with SciFact claims (k=10): first for --load-seconds with no
   re-index, then while a re-index started with POST /admin/reindex runs (one folder moved
   to the other source, --change-percent of the files edited and as many new documents
   added), until GET /admin/runs/{id} says it ended. Reports requests, errors (non-200 or
   exception), malformed responses, p50/p99 latency, the run's report and the index
   generation before, during and after; then, with no load, checks that the hits of 50
   claims name files that exist, under the office of their new source folder;
6. prints one JSON object with every figure (and writes it to --json-out).

The machine's load average is recorded beside each phase: other processes change the times.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from api.local_server import bridge_server
from api.reindex import reindex
from bench.common import (
    REPO,
    emit,
    index_counts,
    load_average,
    new_workdir,
    percentile,
    scratch_knowledge_base,
)
from evaluation.beir import read_jsonl, read_texts
from ingest.discovery import Root
from ingest.sources import load_sources
from search.knowledge_base import KnowledgeBase
from search.records import RunReport

FOLDERS = 10
UNCHANGED_REPEATS = 3
GOAL_UNCHANGED_SHARE = 0.03
EDIT_SENTENCE = ("\n\nAddendum: a follow-up study by the {office} office revisited these "
                 "findings in a larger cohort (revision {n}).\n")
RUN_TIMEOUT_S = 3600
POLL_S = 1.0


# --- the corpus on disk ----------------------------------------------------------------
@dataclass
class Corpus:
    workdir: Path
    files: list[Path]  # in corpus order
    spare: list[dict[str, str]]  # SciFact documents not written, for additions
    sources_file: Path

    @property
    def root(self) -> Path:
        return self.workdir / "corpus"


def markdown(row: dict[str, str]) -> str:
    return f"# {row['title'].strip()}\n\n{row['text'].strip()}\n"


def folder_for(index: int) -> str:
    """``boston/part-00`` .. ``paris/part-09``: the first half of the folders is Boston's."""
    return f"{'boston' if index < FOLDERS // 2 else 'paris'}/part-{index:02d}"


def write_corpus(data: Path, docs: int, workdir: Path) -> Corpus:
    rows = list(read_jsonl(data / "corpus.jsonl"))
    if docs > len(rows):
        raise SystemExit(f"--docs {docs}: {data / 'corpus.jsonl'} has only {len(rows)} documents")
    per_folder = -(-docs // FOLDERS)
    files = []
    for i, row in enumerate(rows[:docs]):
        path = workdir / "corpus" / folder_for(i // per_folder) / f"{row['_id']}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(markdown(row), encoding="utf-8")
        files.append(path)
    sources_file = workdir / "sources.yaml"
    sources_file.write_text(yaml.safe_dump({"sources": [
        {"name": "boston", "folder": "corpus/boston", "office": "Boston", "language": "en"},
        {"name": "paris", "folder": "corpus/paris", "office": "Paris", "language": "en"},
    ]}, sort_keys=False), encoding="utf-8")
    return Corpus(workdir, files, rows[docs:], sources_file)


def append_sentence(path: Path, n: int) -> None:
    office = "Paris" if "paris" in path.parts else "Boston"
    with path.open("a", encoding="utf-8") as f:
        f.write(EDIT_SENTENCE.format(office=office, n=n))


# --- in-process runs -------------------------------------------------------------------
def timed_reindex(kb: KnowledgeBase, roots: list[Root]) -> tuple[float, RunReport]:
    started = time.perf_counter()
    report = reindex(kb, roots, trigger="bench")
    return time.perf_counter() - started, report


def file_chunks(kb: KnowledgeBase, path: Path) -> int:
    with kb.store.connect() as db:
        row = db.execute("SELECT d.n_chunks FROM paths p JOIN documents d ON d.id = p.document_id"
                         " WHERE p.source_path = ?", (str(path.resolve()),)).fetchone()
    return int(row[0]) if row else 0


def report_figures(report: RunReport) -> dict[str, Any]:
    return {
        "added": len(report.added), "updated": len(report.updated), "moved": len(report.moved),
        "duplicates": len(report.duplicates), "deleted": len(report.deleted),
        "unchanged": report.unchanged, "failed": len(report.failed),
        "chunks_indexed": report.chunks_indexed, "chunks_embedded": report.chunks_embedded,
        "report_seconds": report.seconds,
    }


# --- the server and the load -----------------------------------------------------------
@dataclass
class LoadStats:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    malformed: int = 0
    hits_checked: int = 0
    error_samples: list[str] = field(default_factory=list)
    hit_samples: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, message: str) -> None:
        with self.lock:
            self.errors += 1
            if len(self.error_samples) < 5:
                self.error_samples.append(message[:300])

    def summary(self, seconds: float) -> dict[str, Any]:
        ok = self.latencies_ms
        return {
            "seconds": round(seconds, 1),
            "requests": len(ok) + self.errors,
            "ok": len(ok),
            "errors": self.errors,
            "malformed": self.malformed,
            "hits_checked": self.hits_checked,
            "requests_per_s": round((len(ok) + self.errors) / seconds, 2) if seconds else 0.0,
            "p50_ms": round(percentile(ok, 50), 1) if ok else None,
            "p99_ms": round(percentile(ok, 99), 1) if ok else None,
            "max_ms": round(max(ok), 1) if ok else None,
            "error_samples": self.error_samples,
            "hit_samples": self.hit_samples,
        }


def check_response(payload: Any, k: int) -> tuple[str | None, list[dict[str, Any]]]:
    """Why a /search answer is malformed (None when it is well-formed), and its hits, read
    as a client reads them (ids are opaque tokens, paths relative to their source)."""
    hits = payload.get("hits") if isinstance(payload, dict) else None
    if not isinstance(hits, list) or not hits or len(hits) > k:
        return f"{len(hits) if isinstance(hits, list) else 'no'} hits for k={k}", []
    try:
        scores = [float(h["score"]) for h in hits]
        chunk_ids = [h["chunk_id"] for h in hits]
        complete = all(h["text"].strip() and h["document"]["source_path"]
                       and h["document"]["id"] for h in hits)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return f"invalid response: {exc!r}", []
    if scores != sorted(scores, reverse=True):
        return "hits not ordered by score", []
    if len(set(chunk_ids)) != len(hits):
        return "a chunk appears twice", []
    if not complete:
        return "a hit without text, source path or document id", []
    return None, hits


def client_loop(base_url: str, headers: dict[str, str], queries: list[str], start: int,
                stop: threading.Event,
                stats: LoadStats, sample_hits: bool) -> None:
    k = 10
    with httpx.Client(base_url=base_url, headers=headers, timeout=120) as client:
        i = start
        while not stop.is_set():
            query = queries[i % len(queries)]
            i += 1
            started = time.perf_counter()
            try:
                response = client.post("/search", json={"query": query, "k": k})
            except httpx.HTTPError as exc:
                stats.error(f"{type(exc).__name__}: {exc}")
                continue
            elapsed_ms = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                stats.error(f"HTTP {response.status_code}: {response.text}")
                continue
            try:
                problem, hits = check_response(response.json(), k)
            except ValueError as exc:
                problem, hits = f"not JSON: {exc}", []
            with stats.lock:
                stats.latencies_ms.append(elapsed_ms)
                stats.hits_checked += len(hits)
                if problem:
                    stats.malformed += 1
                    if len(stats.error_samples) < 5:
                        stats.error_samples.append(f"malformed: {problem}"[:300])
                elif sample_hits:  # the first hit of the first answer and of the last two
                    hit = hits[0]
                    stats.hit_samples.append({
                        "query": query[:100], "chunk_id": hit["chunk_id"],
                        "score": round(hit["score"], 4),
                        "source_path": hit["document"]["source_path"],
                        "office": hit["document"].get("office"),
                        "snippet": hit["snippet"][:120],
                    })
                    del stats.hit_samples[1:-2]


@contextmanager
def load(base_url: str, headers: dict[str, str], queries: list[str], clients: int,
         stats: LoadStats, sample_hits: bool = False) -> Iterator[None]:
    """``clients`` threads searching until the block ends."""
    stop = threading.Event()
    threads = [threading.Thread(target=client_loop, daemon=True, name=f"client-{n}",
                                args=(base_url, headers, queries,
                                      n * len(queries) // clients, stop,
                                      stats, sample_hits))
               for n in range(clients)]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=180)


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


def make_changes(corpus: Corpus, change_percent: float, skip: Path) -> dict[str, Any]:
    """Move one Boston folder into Paris, edit and add ``change_percent`` of the files each."""
    moved_from = corpus.root / folder_for(FOLDERS // 2 - 1)
    moved_to = corpus.root / "paris" / f"{moved_from.name}-from-boston"
    shutil.move(moved_from, moved_to)
    count = max(1, round(len(corpus.files) * change_percent / 100))
    candidates = [f for f in corpus.files
                  if f.parent != moved_from and f != skip and f.exists()]
    step = max(1, len(candidates) // count)
    edited = candidates[::step][:count]
    for n, path in enumerate(edited):
        append_sentence(path, n)
    new_folder = corpus.root / "paris" / "part-new"
    new_folder.mkdir(parents=True, exist_ok=True)
    added = corpus.spare[:count]
    for row in added:
        (new_folder / f"{row['_id']}.md").write_text(markdown(row), encoding="utf-8")
    return {"moved_folder": f"{moved_from.relative_to(corpus.root)} -> "
                            f"{moved_to.relative_to(corpus.root)}",
            "moved_files": len(list(moved_to.glob("*.md"))),
            "edited_files": len(edited), "added_files": len(added)}


def search_under_load(corpus: Corpus, data_dir: Path, queries: list[str], clients: int,
                      load_seconds: float, change_percent: float, skip: Path) -> dict[str, Any]:
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


# --- the whole benchmark ---------------------------------------------------------------
def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    result: dict[str, Any] = {
        "data": str(args.data), "docs": args.docs, "workdir": str(workdir),
        "folders": FOLDERS, "sources": ["boston", "paris"], "cpus": os.cpu_count(),
        "load_avg_start": load_average(),
    }
    corpus = write_corpus(args.data, args.docs, workdir)
    # a claim "quoting" a phrase that no abstract holds rightly answers nothing (README:
    # quoted words must appear as written); empty answers here mean lost rows only
    queries = [text for text in read_texts(args.data / "queries.jsonl").values()
               if '"' not in text and "\u201c" not in text]
    roots = load_sources(corpus.sources_file)
    data_dir = workdir / "data"
    data_dir.mkdir()
    kb = scratch_knowledge_base(data_dir)

    seconds, report = timed_reindex(kb, roots)
    result["full_ingest"] = {
        "seconds": round(seconds, 1), **report_figures(report),
        "chunks_per_s": round(report.chunks_indexed / seconds, 2),
        "load_avg_after": load_average(),
    }

    unchanged = [timed_reindex(kb, roots) for _ in range(UNCHANGED_REPEATS)]
    median_s = statistics.median(s for s, _ in unchanged)
    result["unchanged_reindex"] = {
        "runs_seconds": [round(s, 3) for s, _ in unchanged],
        "median_seconds": round(median_s, 3),
        "chunks_embedded": [r.chunks_embedded for _, r in unchanged],
        "chunks_indexed": [r.chunks_indexed for _, r in unchanged],
        "unchanged_files": [r.unchanged for _, r in unchanged],
        "share_of_full_ingest": round(median_s / seconds, 5),
        "goal_share": GOAL_UNCHANGED_SHARE,
        "meets_goal": median_s / seconds < GOAL_UNCHANGED_SHARE
        and all(r.chunks_embedded == 0 for _, r in unchanged),
    }

    edited = corpus.files[0]
    chunks_before = file_chunks(kb, edited)
    append_sentence(edited, 0)
    seconds, report = timed_reindex(kb, roots)
    chunks_after = file_chunks(kb, edited)
    result["one_file_edit"] = {
        "file": str(edited.relative_to(corpus.root)),
        "file_chunks_before": chunks_before, "file_chunks_after": chunks_after,
        "seconds": round(seconds, 3), **report_figures(report),
        "only_changed_chunks_embedded": report.updated == [str(edited.resolve())]
        and 0 < report.chunks_embedded < max(2, chunks_after)
        and report.chunks_indexed == chunks_after,
    }
    del kb  # the server loads its own

    result["search_under_load"] = search_under_load(
        corpus, data_dir, queries, args.clients, args.load_seconds, args.change_percent, edited)
    result["load_avg_end"] = load_average()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared/data/scifact_train",
                        help="BEIR SciFact folder (corpus.jsonl, queries.jsonl)")
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="empty or new folder outside the repository (default: a temp dir)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--load-seconds", type=float, default=20.0,
                        help="length of the load with no re-index")
    parser.add_argument("--change-percent", type=float, default=3.0,
                        help="share of the files edited, and of new files added, before the "
                        "re-index under load")
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args()
    if args.docs < FOLDERS or args.clients < 1:
        parser.error(f"--docs must be at least {FOLDERS} and --clients at least 1")
    workdir = new_workdir(parser, args.workdir, "bridge-bench-reindex-")
    emit(run(args, workdir), args.json_out)


if __name__ == "__main__":
    main()
