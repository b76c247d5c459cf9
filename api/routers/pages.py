"""The researchers' web pages: search, read a document, cross to the other offices.

Server-rendered HTML (api.page_views) over the same knowledge base the JSON API uses,
through the same dependencies. Every action is one GET and one response: the search form
submits everything at once and its URL is the shareable state, and all data is fetched
here on the server, so the access control the API gets applies to these pages too, with
no client-side code that would have to carry a key.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from api.auth import Access, PageAccess
from api.deps import KnowledgeBaseDep, SettingsDep
from api.page_facets import document_counts, facet_options, result_counts
from api.page_forms import FACETS, MODES, FormError, Search, SearchForm, parse_search, search_form
from api.page_views import render
from api.query_gate import QuerySlot
from search.bridges import BridgeQuery
from search.knowledge_base import KnowledgeBase
from search.public_ids import DOCUMENT, stored_id
from search.records import Bridge, Document, DocumentHits, Filters

router = APIRouter()

PAGE_SIZE = 10
COUNT_DEPTH = 50  # the counts beside the filters are over this many top documents
BRIDGES_SHOWN = 5


@dataclass
class Results:
    """What the search page lists, whichever way it was found."""

    documents: list[DocumentHits] | list[Document]  # ranked for a query, else newest first
    offset: int
    total: int | None  # None when there are more than were ranked
    more: bool
    counts: dict[str, Counter[str]]


def run_search(kb: KnowledgeBase, search: Search) -> Results:
    """A query's documents (ranked), or without a query the documents passing the filters.

    One ranking serves both the page shown and the counts beside the filters: the top
    ``COUNT_DEPTH`` documents, or as deep as the page needs plus one to know of a next.
    """
    if not search.query:
        documents, total = kb.documents(search.filters, PAGE_SIZE, search.offset)
        return Results(documents=documents, offset=search.offset, total=total,
                       more=search.offset + PAGE_SIZE < total,
                       counts=document_counts(kb, search.filters))
    depth = max(COUNT_DEPTH, search.offset + PAGE_SIZE + 1)
    found = kb.search_documents(search.query, search.filters, k=depth, mode=search.mode)
    end = search.offset + PAGE_SIZE
    return Results(documents=found[search.offset:end], offset=search.offset,
                   total=len(found) if len(found) < depth else None, more=len(found) > end,
                   counts=result_counts(found[:COUNT_DEPTH]))


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def search_page(kb: KnowledgeBaseDep, settings: SettingsDep, access: PageAccess,
                form: Annotated[SearchForm, Depends(search_form)],
                _slot: QuerySlot) -> HTMLResponse:
    """Search, filter and page through every office's documents (the site's home)."""
    visible = access.restrict(Filters())
    options = document_counts(kb, visible) if visible is not None else \
        {facet: Counter() for facet in FACETS}
    try:
        search = parse_search(form, options, settings)
    except FormError as exc:
        mode = form.mode if form.mode in MODES else settings.search_mode.value
        return render("search.html", 422, csrf=access.csrf, form=form, mode=mode,
                      error=str(exc), options=facet_options(form, options, None), results=None)
    filters = access.restrict(search.filters)
    results = run_search(kb, replace(search, filters=filters)) if filters is not None else \
        Results(documents=[], offset=0, total=0, more=False, counts=options)
    return render("search.html", csrf=access.csrf, form=form, mode=search.mode.value,
                  error=None, options=facet_options(form, options, results.counts),
                  results=results, page_size=PAGE_SIZE, count_depth=COUNT_DEPTH)


def _visible_bridges(kb: KnowledgeBase, doc_id: int, access: Access) -> list[Bridge]:
    try:
        return kb.bridges(BridgeQuery(document_id=doc_id, k=BRIDGES_SHOWN,
                                      visible_offices=access.offices)).bridges
    except LookupError:  # deleted by a re-index since the page read it
        return []


@router.get("/view/{doc_id}", response_class=HTMLResponse, include_in_schema=False)
def document_page(doc_id: str, kb: KnowledgeBaseDep, access: PageAccess,
                  _slot: QuerySlot) -> HTMLResponse:
    """One document: what it is, its passages in order, its twins, what others found.

    An address that names no document is this page's 404, never a 422."""
    number = stored_id(DOCUMENT, doc_id)
    found = kb.document(number) if number is not None else None
    if found is None or not access.sees(found[0].office):
        return render("not_found.html", 404, csrf=access.csrf, doc_id=doc_id)
    document, chunks = found
    return render("document.html", csrf=access.csrf, document=document, chunks=chunks,
                  near_duplicates=[d for d in kb.near_duplicates(document.id)
                                   if access.sees(d.document.office)],
                  bridges=_visible_bridges(kb, document.id, access))
