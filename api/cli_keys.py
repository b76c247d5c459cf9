"""``bridge keys``: create, list and revoke API keys (no model is loaded)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli_common import fail
from search.settings import get_settings

if TYPE_CHECKING:
    from api.keys import KeyStore

keys_app = typer.Typer(help="API keys: create, list, revoke (stored hashed).",
                       no_args_is_help=True)


def _key_store() -> KeyStore:
    """The key store of the configured data directory."""
    from api.keys import KeyStore
    from search.database import Database

    return KeyStore(Database(get_settings().db_path))


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
        key, secret = _key_store().create(name, [Scope(s) for s in scope], office)
    except (KeyRequestError, ValueError) as exc:
        fail(str(exc))
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
    keys = _key_store().list()
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
        key = _key_store().revoke(key_id)
    except KeyRequestError as exc:
        fail(str(exc))
    typer.echo(f"revoked key #{key.id} {key.name}")
