"""Re-indexing jobs: one run over the configured sources, in the foreground, in a
background thread (the API) or on a schedule (APScheduler, in the CLI or the server).

Every way in goes through ``Ingestor.run`` and so through the data directory's
single write lock: a second run is refused with the holder's start time instead of
queueing behind it; one started over HTTP first waits a little (an upload job holds the
lock only to publish).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from pathlib import Path

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from ingest.discovery import Root
from ingest.pipeline import Ingestor
from ingest.sources import SourcesError, load_sources
from search.knowledge_base import KnowledgeBase
from search.records import RunReport
from search.writer import WriterBusyError

log = logging.getLogger(__name__)

_DURATION = re.compile(r"(\d+)\s*([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def configured_roots(kb: KnowledgeBase, sources_file: Path | None = None) -> list[Root]:
    """The roots of ``sources_file``, else of the sources file the settings name."""
    path = sources_file or kb.settings.sources_file
    if path is None:
        raise SourcesError("no sources file: pass --sources FILE or set BRIDGE_SOURCES_FILE")
    return load_sources(path)


def reindex(kb: KnowledgeBase, roots: list[Root], trigger: str = "cli") -> RunReport:
    return Ingestor(kb).run(roots, kind="reindex", trigger=trigger)


def start_reindex(kb: KnowledgeBase, roots: list[Root], trigger: str = "api") -> int:
    """Start a run in a background thread; returns its id once it holds the lock.

    Raises ``WriterBusyError`` when another run holds it.
    """
    started = threading.Event()
    outcome: dict[str, object] = {}

    def started_as(run_id: int) -> None:
        outcome["run_id"] = run_id
        started.set()

    def work() -> None:
        try:
            Ingestor(kb).run(roots, kind="reindex", trigger=trigger, on_start=started_as,
                             wait_s=kb.settings.reindex_wait_s)
        except WriterBusyError as exc:
            outcome["error"] = exc
        except Exception:  # recorded in the run's row; the server goes on
            log.exception("re-index failed")
        finally:
            started.set()

    threading.Thread(target=work, name="reindex", daemon=True).start()
    started.wait()
    if "run_id" not in outcome:
        raise outcome.get("error") or RuntimeError("the re-index failed before it started")
    return int(outcome["run_id"])  # type: ignore[call-overload]


def parse_every(text: str) -> dt.timedelta:
    """``30m``, ``2h``, ``1h30m``, ``45s`` or ``1d`` as a duration."""
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION.findall(compact)
    if not parts or "".join(f"{n}{u}" for n, u in parts) != compact:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30m, 2h, 1h30m, 1d)")
    delta = sum((dt.timedelta(**{_UNITS[unit]: int(n)}) for n, unit in parts), dt.timedelta())
    if delta.total_seconds() < 1:
        raise ValueError("the interval must be at least 1s")
    return delta


def schedule_trigger(every: str | None, cron: str | None) -> BaseTrigger:
    """An APScheduler trigger from ``--every`` or ``--cron`` (exactly one of them)."""
    if (every is None) == (cron is None):
        raise ValueError("give exactly one of --every or --cron")
    if every is not None:
        return IntervalTrigger(seconds=parse_every(every).total_seconds())
    try:
        return CronTrigger.from_crontab(cron)
    except ValueError as exc:
        raise ValueError(f"not a cron expression: {cron!r} ({exc})") from exc


def add_reindex_job(scheduler: BaseScheduler, kb: KnowledgeBase, roots: list[Root],
                    trigger: BaseTrigger, run_now: bool = False) -> None:
    """Schedule runs; a run still going when the next is due makes that one skip."""

    def job() -> None:
        try:
            report = reindex(kb, roots, trigger="schedule")
            log.info("scheduled re-index: %s", report.summary())
        except WriterBusyError as exc:
            log.warning("scheduled re-index skipped: %s", exc)
        except Exception:
            log.exception("scheduled re-index failed")

    first = {"next_run_time": dt.datetime.now(dt.UTC)} if run_now else {}
    scheduler.add_job(job, trigger, id="reindex", max_instances=1, coalesce=True,
                      misfire_grace_time=None, **first)
    log.info("re-index scheduled: %s", trigger)
