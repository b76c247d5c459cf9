"""The ``bridge`` command line: ingest, reindex, runs, serve, search, bridges, map, eval, status.

The commands live by job in ``api.cli_ingest``, ``api.cli_search`` and ``api.cli_keys``;
this module gathers them, in the order ``bridge --help`` lists them, and holds the few
that stand alone (serving, evaluating, the status).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from api.cli_common import fail, open_configured_kb, progress_bar
from api.cli_ingest import ingest, reindex, runs, schedule_or_fail
from api.cli_keys import keys_app
from api.cli_search import bridge_map, bridges, search
from api.cli_watch import alerts, watch_app
from search.settings import get_settings

app = typer.Typer(help="Knowledge Bridge: search every office's documents by meaning.",
                  no_args_is_help=True, add_completion=False,
                  pretty_exceptions_show_locals=False)


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


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
        schedule_or_fail(None, reindex_cron)
        settings = settings.model_copy(update={"reindex_cron": reindex_cron})
    uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port)


def score_retrieval(
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
    from evaluation.beir import DatasetError
    from evaluation.harness import evaluate
    from evaluation.report import render_table
    from search.records import SearchMode

    try:
        modes = list(SearchMode) if mode == "all" else [SearchMode(mode)]
    except ValueError:
        fail(f"--mode must be dense, lexical, hybrid or all, not {mode!r}")
    try:
        report = evaluate(dataset, split, modes, get_settings(), progress=progress_bar,
                          scratch_root=scratch)
    except DatasetError as exc:
        fail(str(exc))
    typer.echo(report.model_dump_json(indent=2) if as_json else render_table(report))


def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """What the knowledge base holds: model, generation, documents per office and language."""
    info = open_configured_kb().status()
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    for key, value in info.items():
        typer.echo(f"{key:12s} {value}")


for command in (ingest, reindex, runs, serve, search, bridges):
    app.command()(command)
app.command(name="map")(bridge_map)
app.command(name="eval")(score_retrieval)
app.command()(status)
app.add_typer(keys_app, name="keys")
app.add_typer(watch_app, name="watch")
app.command()(alerts)
