"""Runs: every ingest and re-index, recorded as it goes, with its report when it ends."""

from __future__ import annotations

import os
import sqlite3

from search.records import RunRecord, RunReport
from search.sql import utc_now


def _record(row: sqlite3.Row) -> RunRecord:
    data = dict(row)
    data["report"] = RunReport.model_validate_json(data["report"]) if data["report"] else None
    return RunRecord.model_validate(data)


def start_run(db: sqlite3.Connection, kind: str, trigger: str) -> int:
    """Record a run that now holds the write lock; any run still "running" died."""
    db.execute("UPDATE runs SET status = 'interrupted', finished_at = ?"
               " WHERE status = 'running'", (utc_now(),))
    cur = db.execute("INSERT INTO runs(kind, trigger, status, pid, started_at)"
                     " VALUES (?, ?, 'running', ?, ?)", (kind, trigger, os.getpid(), utc_now()))
    return int(cur.lastrowid)


def run_progress(db: sqlite3.Connection, run_id: int, done: int, total: int) -> None:
    db.execute("UPDATE runs SET files_done = ?, files_total = ? WHERE id = ?",
               (done, total, run_id))


def finish_run(db: sqlite3.Connection, run_id: int, report: RunReport | None,
               error: str | None) -> None:
    db.execute(
        "UPDATE runs SET status = ?, finished_at = ?, report = ?, error = ? WHERE id = ?",
        ("failed" if error else "finished", utc_now(),
         report.model_dump_json() if report else None, error, run_id))


def recent_runs(db: sqlite3.Connection, limit: int = 20, offset: int = 0) -> list[RunRecord]:
    """Runs, the latest first."""
    rows = db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ? OFFSET ?",
                      (limit, offset)).fetchall()
    return [_record(r) for r in rows]


def run_record(db: sqlite3.Connection, run_id: int) -> RunRecord | None:
    row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
    return _record(row) if row else None
