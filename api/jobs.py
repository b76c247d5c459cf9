"""Uploads as jobs: stored at once, ingested in the background, followed at ``/jobs/{id}``.

Embedding an upload takes seconds to minutes (OCR, the encoder); a request must not wait
for it, and one upload must not lock out another. ``POST /documents`` stores the files and
records a job; a single runner thread takes the jobs in order and ingests each in two steps:
prepared and embedded *without* the data directory's write lock, then written and published
under it (a short critical section), waiting for the lock while a re-index holds it. So
uploads queue behind each other and behind re-indexes instead of being refused. Jobs live in
the database: a job the server was running when it stopped is taken up again at the next
start, its files still under ``uploads/``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import threading
from pathlib import Path
from typing import Any

from api import uploads
from api.schemas import JobFile, JobRecord
from search.database import Database
from search.knowledge_base import KnowledgeBase

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS upload_jobs (
    id TEXT PRIMARY KEY,
    key_id INTEGER,
    status TEXT NOT NULL,
    files TEXT NOT NULL,
    metadata TEXT NOT NULL,
    outcomes TEXT,
    error TEXT,
    created_at TEXT NOT NULL,
    finished_at TEXT
);
"""
# How long a job waits for the write lock before it tries again (a re-index may hold it).
LOCK_WAIT_S = 5.0


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class JobStore:
    """The ``upload_jobs`` table."""

    def __init__(self, store: Database) -> None:
        self.store = store
        with store.connect() as db:
            db.execute(SCHEMA)

    def submit(self, key_id: int | None, files: list[uploads.Received],
               metadata: dict[str, Any]) -> JobRecord:
        job_id = secrets.token_urlsafe(12)
        stored = [{"client_name": f.client_name, "stored": str(f.stored)} for f in files]
        with self.store.connect() as db:
            db.execute("INSERT INTO upload_jobs(id, key_id, status, files, metadata, created_at)"
                       " VALUES (?, ?, 'queued', ?, ?, ?)",
                       (job_id, key_id, json.dumps(stored), json.dumps(metadata, default=str),
                        _now()))
        return self.get(job_id)  # type: ignore[return-value]

    def get(self, job_id: str) -> JobRecord | None:
        with self.store.connect() as db:
            row = db.execute("SELECT * FROM upload_jobs WHERE id = ?", (job_id,)).fetchone()
        return _record(row) if row is not None else None

    def owner(self, job_id: str) -> int | None:
        with self.store.connect() as db:
            row = db.execute("SELECT key_id FROM upload_jobs WHERE id = ?", (job_id,)).fetchone()
        return row[0] if row is not None else None

    def next_queued(self) -> tuple[str, list[uploads.Received], dict[str, Any]] | None:
        """The oldest queued job, marked running."""
        with self.store.connect() as db:
            row = db.execute("SELECT * FROM upload_jobs WHERE status = 'queued'"
                             " ORDER BY created_at, rowid LIMIT 1").fetchone()
            if row is None:
                return None
            db.execute("UPDATE upload_jobs SET status = 'running' WHERE id = ?", (row["id"],))
        files = [uploads.Received(f["client_name"], Path(f["stored"]))
                 for f in json.loads(row["files"])]
        return row["id"], files, json.loads(row["metadata"])

    def finish(self, job_id: str, outcomes: list[uploads.Outcome] | None,
               error: str | None) -> None:
        status = "finished" if error is None else "failed"
        saved = json.dumps([o.__dict__ for o in outcomes]) if outcomes is not None else None
        with self.store.connect() as db:
            db.execute("UPDATE upload_jobs SET status = ?, outcomes = ?, error = ?,"
                       " finished_at = ? WHERE id = ?", (status, saved, error, _now(), job_id))

    def requeue_interrupted(self) -> int:
        """Jobs that were running when the server stopped go back to the queue."""
        with self.store.connect() as db:
            return db.execute("UPDATE upload_jobs SET status = 'queued'"
                              " WHERE status = 'running'").rowcount


def _record(row: Any) -> JobRecord:
    outcomes = {o["client_name"]: o for o in json.loads(row["outcomes"] or "[]")}
    files = [JobFile(filename=f["client_name"],
                     status=outcomes.get(f["client_name"], {}).get("status", row["status"]),
                     document_id=outcomes.get(f["client_name"], {}).get("document_id"),
                     error=outcomes.get(f["client_name"], {}).get("error"))
             for f in json.loads(row["files"])]
    return JobRecord(id=row["id"], status=row["status"], files=files, error=row["error"],
                     created_at=row["created_at"], finished_at=row["finished_at"])


class JobRunner:
    """One thread that ingests queued uploads in order, embedding outside the write lock."""

    def __init__(self, kb: KnowledgeBase, jobs: JobStore) -> None:
        self.kb = kb
        self.jobs = jobs
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="upload-jobs", daemon=True)

    def start(self) -> None:
        resumed = self.jobs.requeue_interrupted()
        if resumed:
            log.info("resuming %d upload jobs left by the last run", resumed)
        self._thread.start()
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            while not self._stop.is_set() and (job := self.jobs.next_queued()) is not None:
                self._run(*job)

    def _run(self, job_id: str, files: list[uploads.Received], metadata: dict[str, Any]) -> None:
        try:
            outcomes = uploads.ingest(self.kb, files, metadata, lambda: self._stop.is_set(),
                                      LOCK_WAIT_S)
        except Exception as exc:  # recorded on the job; the runner goes on with the next
            log.exception("upload job %s failed", job_id)
            self.jobs.finish(job_id, None, f"the upload could not be ingested: {exc}")
            return
        if outcomes is None:  # stopping: the job stays running, and resumes at next start
            return
        self.jobs.finish(job_id, outcomes, None)
