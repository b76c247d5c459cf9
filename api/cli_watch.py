"""``bridge watch add|list|rm`` and ``bridge alerts``: watches from the command line.

Watches made here belong to the operator (owner ``cli``), not to an API key; they see every
office. ``bridge alerts --deliver`` sends the webhooks that are due, as a server would.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from api.cli_common import fail, open_configured_kb
from search.settings import get_settings

watch_app = typer.Typer(help="Watches: hear when another office publishes something close.",
                        no_args_is_help=True)
CLI_OWNER = "cli"


@watch_app.command("add")
def watch_add(
    text: Annotated[str | None, typer.Option(help="Watch a finding written here.")] = None,
    office: Annotated[str | None, typer.Option(help="The text's office.")] = None,
    document: Annotated[str | None, typer.Option(help="Watch a document (its id).")] = None,
    chunk: Annotated[str | None, typer.Option(help="Watch one finding (a chunk's id).")] = None,
    to: Annotated[list[str] | None, typer.Option(
        "--to", help="Office to watch; repeat for several (default: every other).")] = None,
    threshold: Annotated[float | None, typer.Option(help="Cosine a passage needs.")] = None,
    webhook: Annotated[str | None, typer.Option(help="POST alerts here too.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Watch a finding; prints the watch, its feed URL and its webhook secret (this once)."""
    from fastapi.exceptions import RequestValidationError
    from pydantic import ValidationError

    from api.request_limits import check_finding_length
    from api.watch_models import WatchCreate, WatchCreated

    kb = open_configured_kb()
    try:
        body = WatchCreate(text=text, office=office, document_id=document, chunk_id=chunk,
                           target_offices=to or [], threshold=threshold, webhook_url=webhook)
        check_finding_length(body.text, get_settings())
        created = WatchCreated.of(kb.watcher.add(body.to_request(CLI_OWNER, None)))
    except (ValidationError, RequestValidationError) as exc:
        fail(exc.errors()[0]["msg"])
    except LookupError as exc:
        fail(exc.args[0])
    if as_json:
        typer.echo(created.model_dump_json(indent=2))
        return
    typer.echo(f"watch #{created.id}: feed {created.feed_url}; webhook secret "
               f"{created.secret} (not shown again)")


@watch_app.command("list")
def watch_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every watch, whoever made it."""
    from api.watch_models import WatchOut

    watches = open_configured_kb().watcher.watches()
    if as_json:
        typer.echo(json.dumps([{**WatchOut.of(w).model_dump(mode="json"), "owner": w.owner}
                               for w in watches], indent=2))
        return
    for w in watches:
        targets = ", ".join(w.target_offices) if w.target_offices is not None else "all others"
        typer.echo(f"#{w.id} {w.kind} from {w.home_office or '-'} -> {targets}; "
                   f"{w.delivery}; owner {w.owner}; since {w.created_at}")


@watch_app.command("rm")
def watch_rm(watch_id: Annotated[int, typer.Argument(help="The watch's number.")]) -> None:
    """Remove a watch and its alerts."""
    if not open_configured_kb().watcher.remove(watch_id):
        fail(f"no watch #{watch_id}")
    typer.echo(f"watch #{watch_id} removed")


def alerts(
    watch: Annotated[int | None, typer.Option(help="Only this watch's alerts.")] = None,
    deliver: Annotated[bool, typer.Option(
        help="First send the webhooks that are due, as a server does.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Alerts: passages of other offices that matched a watch, newest first."""
    from api.routers.watches import alerts_out
    from api.webhooks import WebhookSender

    kb = open_configured_kb()
    if deliver:
        typer.echo(f"{WebhookSender(kb, get_settings()).deliver_due()} webhooks delivered",
                   err=True)
    watches = [w for w in kb.watcher.watches() if watch is None or w.id == watch]
    if watch is not None and not watches:
        fail(f"no watch #{watch}")
    shown = [a for w in watches for a in alerts_out(kb, w)]
    if as_json:
        typer.echo(json.dumps([a.model_dump(mode="json") for a in shown], indent=2))
        return
    for a in shown:
        typer.echo(f"watch #{a.watch_id}, {a.matched_at}, {a.similarity:.3f}: "
                   f"{a.document.office} · {a.document.title}\n  {a.found.text[:200]}")
