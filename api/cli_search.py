"""``bridge search``, ``bridges`` and ``map``: reading the knowledge base from a terminal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli_common import OfficeOpt, fail, open_configured_kb
from search.settings import get_settings

if TYPE_CHECKING:
    from search.records import BridgeMap, BridgeResult, Provenance


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
        fail(exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc))
    kb = open_configured_kb()
    results = (kb.search_documents(query, filters, k, mode=search_mode) if documents
               else kb.search(query, filters, k, mode=search_mode))
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in results], indent=2,
                              ensure_ascii=False))
        return
    for rank, result in enumerate(results, 1):
        hit = result.hits[0] if documents else result
        doc = hit.document
        typer.secho(f"{rank:2d}. {result.score:.3f}  {doc.title}  [{doc.office or '?'}, "
                    f"{hit.language or doc.language or '?'}, {doc.doc_type}]  "
                    f"{_where(hit.provenance)}", bold=True)
        typer.echo(f"    {_highlighted(hit.snippet, hit.highlights)}")


def _where(provenance: Provenance) -> str:
    """Where a passage sits: "page 3", "slide 2, section Findings"."""
    return ", ".join(f"{k} {v}" for k, v in provenance.as_dict().items())


def _highlighted(text: str, spans: list[tuple[int, int]]) -> str:
    """The snippet with its query terms in bold (plain when not a terminal)."""
    out, last = [], 0
    for start, end in spans:
        out += [text[last:start], typer.style(text[start:end], bold=True, underline=True)]
        last = end
    return "".join([*out, text[last:]])


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
    from fastapi.exceptions import RequestValidationError
    from pydantic import ValidationError

    from api.request_limits import check_finding_length
    from api.schemas import BridgeRequest

    kb = open_configured_kb()
    try:
        request = BridgeRequest(document_id=document, chunk_id=chunk, text=text, office=office,
                                target_offices=to or [], k=k, passages=passages)
        check_finding_length(request.text, get_settings())
    except (ValidationError, RequestValidationError) as exc:
        fail(exc.errors()[0]["msg"])
    try:
        result = kb.bridges(request.to_query())
    except LookupError as exc:
        fail(exc.args[0])
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    _print_bridges(result)


def _print_bridges(result: BridgeResult) -> None:
    """Each bridge: its document, its copies, and the best aligned pair of passages."""
    from api.page_views import shared_term

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
            where = _where(passage.provenance)
            typer.echo(f"    {side} ({passage.language or '?'}{', ' + where if where else ''}):"
                       f" {_shortened(passage.text)}")
        if best.shared_terms:
            typer.echo("    shared: " + ", ".join(shared_term(t) for t in best.shared_terms))


def _shortened(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bridge_map(
    html: Annotated[Path | None, typer.Option(
        "--html", help="Write the map as a page to this file (opens offline).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """How strongly each pair of offices is connected, on which themes, and the gaps."""
    result = open_configured_kb().bridge_map()
    if html is not None:
        from api.map_page import render_map_html

        html.write_text(render_map_html(result), encoding="utf-8")
        typer.echo(f"wrote {html}")
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    elif html is None:
        _print_map(result)


def _print_map(result: BridgeMap) -> None:
    """Each pair of offices with its strongest themes, then each office's own themes."""
    from api.map_page import theme_label

    themes = {t.id: t for t in result.themes}
    for link in result.links:
        labels = "; ".join(theme_label(themes[t.theme]) for t in link.themes[:3])
        typer.echo(f"{link.offices[0]} - {link.offices[1]}: strength {link.strength:.3f}, "
                   f"{link.bridges} bridges  ({labels})")
    for office in result.offices:
        only = "; ".join(theme_label(themes[t]) for t in office.only) or "none"
        typer.echo(f"{office.office}: {office.documents} documents, {len(office.shared)} "
                   f"shared themes, only here: {only}")
