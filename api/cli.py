"""The ``bridge`` command line: ingest, reindex, runs, serve, search, bridges, map, eval, status."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from search.settings import get_settings

app = typer.Typer(help="Knowledge Bridge: search every office's documents by meaning.",
                  no_args_is_help=True, add_completion=False,
                  pretty_exceptions_show_locals=False)

OfficeOpt = Annotated[str | None, typer.Option(help="Office, e.g. Boston.")]


def _kb():
    """The knowledge base, its ids shown and taken as the API's (opaque tokens)."""
    from api.app import open_knowledge_base
    from search.knowledge_base import ModelMismatchError
    from search.public_ids import PUBLIC_IDS

    try:
        kb = open_knowledge_base(get_settings())
    except ModelMismatchError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc
    PUBLIC_IDS.set(kb.store.id_codec())
    return kb


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@app.command()
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
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
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
        typer.secho(f"error: --engine must be one of {', '.join(ENGINES)}, not {engine!r}",
                    fg="red", err=True)
        raise typer.Exit(2)
    kb = _kb()
    overrides = {"office": office, "region": region, "team": team, "doc_type": doc_type,
                 "language": language}
    _run_and_report(lambda progress: Ingestor(
        kb, overrides, force=force, engine=engine, ray_address=ray_address).run(
        paths, progress=progress), as_json)


def _progress(items, what: str = "files"):
    from tqdm import tqdm

    return tqdm(items, desc=what, unit="", file=sys.stderr)


def _run_and_report(run, as_json: bool) -> None:
    """Run an ingest or re-index; print its report, or why it could not go on. One bad file
    never stops a run (it is in the report); only the knowledge base's own trouble does."""
    import sqlite3

    from search.knowledge_base import WriterBusyError

    try:
        report = run(_progress)
    except WriterBusyError as exc:
        holder = f" (held by process {exc.pid})" if exc.pid else ""
        typer.secho(f"error: {exc}{holder}", fg="red", err=True)
        raise typer.Exit(3) from exc
    except (sqlite3.Error, OSError) as exc:
        typer.secho(f"error: the knowledge base cannot be written ({exc}); the run stopped, "
                    "and what it published before stays searchable", fg="red", err=True)
        raise typer.Exit(4) from exc
    if as_json:
        typer.echo(json.dumps({**report.model_dump(mode="json"),
                               "chunks_per_second": report.chunks_per_second}, indent=2))
        return
    typer.echo(report.summary())
    _print_failures(report)


def _print_failures(report, indent: str = "  ") -> None:
    """Failed files grouped by why, each with its detail."""
    for kind, paths in report.failures_by_kind.items():
        typer.echo(f"{indent}{kind} ({len(paths)}):")
        for failure in (f for f in report.failed if f.kind == kind):
            detail = failure.reason.removeprefix(kind).removeprefix(": ")
            typer.echo(f"{indent}  {failure.path}" + (f": {detail}" if detail else ""))


def _sources(sources: Path | None):
    from api.reindex import configured_roots
    from ingest.sources import SourcesError

    kb = _kb()
    try:
        return kb, configured_roots(kb, sources)
    except SourcesError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc


def _trigger(every: str | None, cron: str | None):
    from api.reindex import schedule_trigger

    try:
        return schedule_trigger(every, cron)
    except ValueError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc


@app.command()
def reindex(
    sources: Annotated[Path | None, typer.Option(
        help="Sources file (YAML or TOML). Default: settings sources_file.")] = None,
    every: Annotated[str | None, typer.Option(
        help="Run now and then every interval, e.g. 30m, 2h, 1d (keeps running).")] = None,
    cron: Annotated[str | None, typer.Option(
        help='Run on a cron schedule, e.g. "0 2 * * *" (keeps running).')] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Re-read every configured source: add, update, move and delete what changed."""
    from api.reindex import add_reindex_job, reindex

    trigger = _trigger(every, cron) if every or cron else None
    kb, roots = _sources(sources)
    if trigger is None:
        _run_and_report(lambda progress: reindex(kb, roots), as_json)
        return
    from apscheduler.schedulers.blocking import BlockingScheduler

    logging.getLogger().setLevel(logging.INFO)
    scheduler = BlockingScheduler(timezone=dt.UTC)
    add_reindex_job(scheduler, kb, roots, trigger, run_now=every is not None)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=False)


@app.command()
def runs(
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Past ingest and re-index runs, newest first, with what each changed."""
    records = _kb().store.runs(limit)
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
            _print_failures(r.report, indent="    ")
        if r.error:
            typer.echo(f"    error: {r.error}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default: settings host.")] = None,
    port: Annotated[int | None, typer.Option(help="Default: settings port.")] = None,
    reindex_cron: Annotated[str | None, typer.Option(
        help='Re-index the configured sources on this cron schedule, e.g. "0 2 * * *".')]
    = None,
) -> None:
    """Serve the HTTP API (docs at /docs)."""
    import uvicorn

    from api.app import create_app

    settings = get_settings()
    if reindex_cron:
        _trigger(None, reindex_cron)
        settings = settings.model_copy(update={"reindex_cron": reindex_cron})
    uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for, in any language.")],
    office: OfficeOpt = None,
    region: Annotated[str | None, typer.Option()] = None,
    language: Annotated[str | None, typer.Option("--lang")] = None,
    doc_type: Annotated[str | None, typer.Option("--type")] = None,
    k: Annotated[int, typer.Option(min=1, max=100)] = 10,
    mode: Annotated[str | None, typer.Option(
        help="dense, lexical or hybrid (default: settings search_mode).")] = None,
    documents: Annotated[bool, typer.Option("--documents", help="Group hits per document.")]
    = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Search by meaning; filters narrow by office, region, language and type."""
    from pydantic import ValidationError

    from search.records import Filters, SearchMode

    try:
        filters = Filters(office=office, region=region, language=language, doc_type=doc_type)
        search_mode = SearchMode(mode) if mode else None
    except (ValidationError, ValueError) as exc:
        message = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        typer.secho(f"error: {message}", fg="red", err=True)
        raise typer.Exit(2) from exc
    kb = _kb()
    results = (kb.search_documents(query, filters, k, mode=search_mode) if documents
               else kb.search(query, filters, k, mode=search_mode))
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in results], indent=2,
                              ensure_ascii=False))
        return
    for rank, result in enumerate(results, 1):
        hit = result.hits[0] if documents else result
        doc = hit.document
        where = ", ".join(f"{k} {v}" for k, v in hit.provenance.as_dict().items())
        typer.secho(f"{rank:2d}. {result.score:.3f}  {doc.title}  [{doc.office or '?'}, "
                    f"{hit.language or doc.language or '?'}, {doc.doc_type}]  {where}", bold=True)
        typer.echo(f"    {_highlighted(hit.snippet, hit.highlights)}")


def _highlighted(text: str, spans: list[tuple[int, int]]) -> str:
    """The snippet with its query terms in bold (plain when not a terminal)."""
    out, last = [], 0
    for start, end in spans:
        out += [text[last:start], typer.style(text[start:end], bold=True, underline=True)]
        last = end
    return "".join([*out, text[last:]])


@app.command()
def bridges(
    document: Annotated[str | None, typer.Option(
        help="Bridge this document (its id, as search and the API show it).")] = None,
    chunk: Annotated[str | None, typer.Option(help="Bridge this chunk (its id).")] = None,
    text: Annotated[str | None, typer.Option(help="Bridge a finding written here.")] = None,
    office: Annotated[str | None, typer.Option(
        help="Source office (a document's or chunk's own office wins).")] = None,
    to: Annotated[list[str] | None, typer.Option(
        "--to", help="Target office; repeat for several (default: every other office).")]
    = None,
    k: Annotated[int, typer.Option(min=1, max=50)] = 10,
    passages: Annotated[int, typer.Option(min=1, max=10)] = 3,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """What the other offices found about a document, a finding or a text, and why."""
    from pydantic import ValidationError

    from api.schemas import BridgeRequest

    kb = _kb()
    try:
        request = BridgeRequest(document_id=document, chunk_id=chunk, text=text, office=office,
                                target_offices=to or [], k=k, passages=passages)
    except ValidationError as exc:
        typer.secho(f"error: {exc.errors()[0]['msg']}", fg="red", err=True)
        raise typer.Exit(2) from exc
    try:
        result = kb.bridges(request.to_query())
    except LookupError as exc:
        typer.secho(f"error: {exc.args[0]}", fg="red", err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    source = result.source
    typer.echo(f"From {source.document.title if source.document else source.kind} "
               f"[{source.office or '?'}, {source.language or '?'}] to "
               f"{', '.join(result.target_offices) or 'no other office'}:")
    for rank, bridge in enumerate(result.bridges, 1):
        doc = bridge.document
        typer.secho(f"{rank:2d}. {bridge.score:.3f}  {doc.title}  [{doc.office}, "
                    f"{doc.language or '?'}, {doc.doc_type}]", bold=True)
        if bridge.also_in:
            typer.echo("    also in: " + "; ".join(f"{d.title} [{d.office}]"
                                                    for d in bridge.also_in))
        best = bridge.passages[0]
        for side, passage in (("here ", best.source), ("there", best.target)):
            where = ", ".join(f"{k} {v}" for k, v in passage.provenance.as_dict().items())
            typer.echo(f"    {side} ({passage.language or '?'}{', ' + where if where else ''}):"
                       f" {_shortened(passage.text)}")
        if best.shared_terms:
            typer.echo("    shared: " + ", ".join(
                t.source if t.exact else f"{t.source} = {t.target}" for t in best.shared_terms))


def _shortened(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@app.command(name="map")
def bridge_map(
    html: Annotated[Path | None, typer.Option(
        "--html", help="Write the map as a page to this file (opens offline).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """How strongly each pair of offices is connected, on which themes, and the gaps."""
    result = _kb().bridge_map()
    if html is not None:
        from api.map_page import render_map_html

        html.write_text(render_map_html(result), encoding="utf-8")
        typer.echo(f"wrote {html}")
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    if html is not None:
        return
    themes = {t.id: t for t in result.themes}
    from api.map_page import theme_label

    for link in result.links:
        labels = "; ".join(theme_label(themes[t.theme]) for t in link.themes[:3])
        typer.echo(f"{link.offices[0]} - {link.offices[1]}: strength {link.strength:.3f}, "
                   f"{link.bridges} bridges  ({labels})")
    for office in result.offices:
        only = "; ".join(theme_label(themes[t]) for t in office.only) or "none"
        typer.echo(f"{office.office}: {office.documents} documents, {len(office.shared)} "
                   f"shared themes, only here: {only}")


keys_app = typer.Typer(help="API keys: create, list, revoke (stored hashed).",
                       no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def _keys():
    """The key store of the configured data directory (no model is loaded)."""
    from api.keys import KeyStore
    from search.store import Store

    return KeyStore(Store(get_settings().db_path))


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="Who or what uses the key, e.g. paris-team.")],
    scope: Annotated[list[str], typer.Option(
        help="read, ingest or admin; repeat for several.")],
    office: Annotated[list[str] | None, typer.Option(
        help="Limit the key to this office; repeat for several (default: every office).")]
    = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create a key; its secret is printed this once and never stored."""
    from api.keys import KeyRequestError, Scope

    try:
        key, secret = _keys().create(name, [Scope(s) for s in scope], office)
    except (KeyRequestError, ValueError) as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps({**key.model_dump(mode="json"), "key": secret}, indent=2))
        return
    typer.echo(secret)
    typer.echo(f"key #{key.id} {key.name}: scopes {', '.join(key.scopes)}; offices "
               f"{', '.join(key.offices) if key.offices else 'all'}. Keep it: it is not "
               "shown again.", err=True)


@keys_app.command("list")
def keys_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every key (never its secret): prefix, scopes, offices, revoked or not."""
    keys = _keys().list()
    if as_json:
        typer.echo(json.dumps([k.model_dump(mode="json") for k in keys], indent=2))
        return
    for k in keys:
        state = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "active"
        typer.echo(f"#{k.id} {k.prefix}…  {k.name}  [{', '.join(k.scopes)}]  offices "
                   f"{', '.join(k.offices) if k.offices else 'all'}  {state}")


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[int, typer.Argument(help="The key's id (bridge keys list).")]
                ) -> None:
    """Revoke a key: the next request made with it gets a 401."""
    from api.keys import KeyRequestError

    try:
        key = _keys().revoke(key_id)
    except KeyRequestError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"revoked key #{key.id} {key.name}")


@app.command(name="eval")
def evaluate(
    dataset: Annotated[Path, typer.Argument(
        help="A BEIR folder: corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv.")],
    split: Annotated[str, typer.Option(help="The qrels file to score.")] = "test",
    mode: Annotated[str, typer.Option(help="dense, lexical, hybrid or all.")] = "all",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    scratch: Annotated[Path | None, typer.Option(
        help="Where ingested datasets are cached. Default: CACHE_DIR/eval.")] = None,
) -> None:
    """Score retrieval on a BEIR dataset: nDCG@10, Recall@100, MRR@10 and latency per mode.

    The corpus is ingested once into a cached scratch index; re-running embeds nothing.
    """
    from api.evaluation import DatasetError, evaluate, render_table
    from search.records import SearchMode

    try:
        modes = list(SearchMode) if mode == "all" else [SearchMode(mode)]
    except ValueError as exc:
        typer.secho(f"error: --mode must be dense, lexical, hybrid or all, not {mode!r}",
                    fg="red", err=True)
        raise typer.Exit(2) from exc
    try:
        report = evaluate(dataset, split, modes, get_settings(), progress=_progress,
                          scratch_root=scratch)
    except DatasetError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc
    typer.echo(report.model_dump_json(indent=2) if as_json else render_table(report))


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """What the knowledge base holds: model, generation, documents per office and language."""
    info = _kb().status()
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    for key, value in info.items():
        typer.echo(f"{key:12s} {value}")
