"""``bridge ingest``, ``reindex`` and ``runs``: filling the knowledge base and its history."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli_common import OfficeOpt, fail, open_configured_kb, print_failures, progress_bar

if TYPE_CHECKING:
    from apscheduler.triggers.base import BaseTrigger

    from ingest.discovery import Root
    from search.knowledge_base import KnowledgeBase
    from search.records import RunReport

JsonReportOpt = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.")],
    office: OfficeOpt = None,
    region: Annotated[str | None, typer.Option(help="US or EU.")] = None,
    team: Annotated[str | None, typer.Option()] = None,
    doc_type: Annotated[str | None, typer.Option(
        "--type", help="interview, pitch_deck, report or other.")] = None,
    language: Annotated[str | None, typer.Option("--lang", help="ISO 639-1 code.")] = None,
    force: Annotated[bool, typer.Option(help="Re-ingest files whose content is unchanged.")]
    = False,
    as_json: JsonReportOpt = False,
    engine: Annotated[str | None, typer.Option(
        help="local (this machine) or ray (a Ray cluster). Default: BRIDGE_INGEST_ENGINE.")]
    = None,
    ray_address: Annotated[str | None, typer.Option(
        help="The Ray cluster to join (ray://host:10001, or auto). Default: a local Ray.")]
    = None,
) -> None:
    """Ingest files and folders (PDF, PPTX, DOCX, Markdown, text, VTT, SRT)."""
    from ingest.engines import ENGINES
    from ingest.pipeline import Ingestor

    if engine not in (None, *ENGINES):
        fail(f"--engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    kb = open_configured_kb()
    overrides = {"office": office, "region": region, "team": team, "doc_type": doc_type,
                 "language": language}
    _run_and_report(lambda progress: Ingestor(
        kb, overrides, force=force, engine=engine, ray_address=ray_address).run(
        paths, progress=progress), as_json)


def _run_and_report(run: Callable[[Callable], RunReport], as_json: bool) -> None:
    """Run an ingest or re-index; print its report, or why it could not go on. One bad file
    never stops a run (it is in the report); only the knowledge base's own trouble does."""
    import sqlite3

    from search.writer import WriterBusyError

    try:
        report = run(progress_bar)
    except WriterBusyError as exc:
        holder = f" (held by process {exc.pid})" if exc.pid else ""
        fail(f"{exc}{holder}", 3)
    except (sqlite3.Error, OSError) as exc:
        fail(f"the knowledge base cannot be written ({exc}); the run stopped, and what it "
             "published before stays searchable", 4)
    if as_json:
        typer.echo(json.dumps({**report.model_dump(mode="json"),
                               "chunks_per_second": report.chunks_per_second}, indent=2))
        return
    typer.echo(report.summary())
    print_failures(report)


def _kb_and_sources(sources: Path | None) -> tuple[KnowledgeBase, list[Root]]:
    """The knowledge base and the folders its sources file lists."""
    from api.reindex import configured_roots
    from ingest.sources import SourcesError

    kb = open_configured_kb()
    try:
        return kb, configured_roots(kb, sources)
    except SourcesError as exc:
        fail(str(exc))


def schedule_or_fail(every: str | None, cron: str | None) -> BaseTrigger:
    """The schedule an interval or a cron expression asks for; a bad one ends the command."""
    from api.reindex import schedule_trigger

    try:
        return schedule_trigger(every, cron)
    except ValueError as exc:
        fail(str(exc))


def reindex(
    sources: Annotated[Path | None, typer.Option(
        help="Sources file (YAML or TOML). Default: settings sources_file.")] = None,
    every: Annotated[str | None, typer.Option(
        help="Run now and then every interval, e.g. 30m, 2h, 1d (keeps running).")] = None,
    cron: Annotated[str | None, typer.Option(
        help='Run on a cron schedule, e.g. "0 2 * * *" (keeps running).')] = None,
    as_json: JsonReportOpt = False,
) -> None:
    """Re-read every configured source: add, update, move and delete what changed."""
    from api.reindex import add_reindex_job
    from api.reindex import reindex as reindex_roots

    trigger = schedule_or_fail(every, cron) if every or cron else None
    kb, roots = _kb_and_sources(sources)
    if trigger is None:
        _run_and_report(lambda progress: reindex_roots(kb, roots), as_json)
        return
    from apscheduler.schedulers.blocking import BlockingScheduler

    logging.getLogger().setLevel(logging.INFO)
    scheduler = BlockingScheduler(timezone=dt.UTC)
    add_reindex_job(scheduler, kb, roots, trigger, run_now=every is not None)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=False)


def runs(
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Past ingest and re-index runs, newest first, with what each changed."""
    records = open_configured_kb().runs(limit)
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in records], indent=2))
        return
    for r in records:
        total = r.files_total if r.files_total is not None else "?"
        started = r.started_at.strftime("%Y-%m-%d %H:%M:%S")
        typer.secho(f"#{r.id} {r.kind} ({r.trigger}) {r.status}  started {started}"
                    f"  {r.files_done}/{total} files", bold=True)
        if r.report is not None:
            typer.echo(f"    {r.report.summary()}")
            print_failures(r.report, indent="    ")
        if r.error:
            typer.echo(f"    error: {r.error}")
