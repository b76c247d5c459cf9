"""What the ``bridge`` commands share: the knowledge base, errors, progress and reports.

Heavy modules (torch, the knowledge base) are imported inside the functions, so that
``bridge --help`` and the key commands start without loading a model.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

from search.settings import get_settings

if TYPE_CHECKING:
    from search.knowledge_base import KnowledgeBase
    from search.records import RunReport

T = TypeVar("T")
OfficeOpt = Annotated[str | None, typer.Option(help="Office, e.g. Boston.")]


def fail(message: str, code: int = 2) -> NoReturn:
    """Say what went wrong on stderr and end the command with ``code``."""
    typer.secho(f"error: {message}", fg="red", err=True)
    raise typer.Exit(code)


def open_configured_kb() -> KnowledgeBase:
    """The knowledge base, its ids shown and taken as the API's (opaque tokens)."""
    from search.model_guard import ModelMismatchError
    from search.opening import open_knowledge_base
    from search.public_ids import PUBLIC_IDS

    try:
        kb = open_knowledge_base(get_settings())
    except ModelMismatchError as exc:
        fail(str(exc))
    PUBLIC_IDS.set(kb.id_codec())
    return kb


def progress_bar(items: Iterable[T], what: str = "files") -> Iterable[T]:
    """``items``, counted on stderr as they are worked through."""
    from tqdm import tqdm

    return tqdm(items, desc=what, unit="", file=sys.stderr)


def print_failures(report: RunReport, indent: str = "  ") -> None:
    """Failed files grouped by why, each with its detail."""
    for kind, paths in report.failures_by_kind.items():
        typer.echo(f"{indent}{kind} ({len(paths)}):")
        for failure in (f for f in report.failed if f.kind == kind):
            detail = failure.reason.removeprefix(kind).removeprefix(": ")
            typer.echo(f"{indent}  {failure.path}" + (f": {detail}" if detail else ""))
