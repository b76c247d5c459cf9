"""The researchers' web pages: search, read a document, cross to the other offices.

Server-rendered HTML (Jinja2, autoescaped) over the same knowledge base the JSON API
uses, through the same ``Depends(get_kb)``. Every action is one GET and one response:
the search form submits everything at once and its URL is the shareable state, and all
data is fetched here on the server, so the access control the API gets applies to these
pages too, with no client-side code that would have to carry a key.
"""

from __future__ import annotations

import datetime as dt
import mimetypes
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import FileResponse, HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from pydantic import ValidationError

from api.auth import Access, LinkAccess, PageAccess
from api.deps import get_kb
from api.schemas import MAX_OFFSET, MAX_QUERY_CHARS, ErrorResponse, whole_number
from search.bridges import BridgeQuery
from search.knowledge_base import KnowledgeBase
from search.path_names import shown
from search.public_ids import CHUNK, DOCUMENT, shown_id, stored_id
from search.records import (
    Bridge,
    DocType,
    Document,
    DocumentHits,
    DocumentSummary,
    Filters,
    Provenance,
    SearchMode,
    SharedTerm,
    valid_utf8,
)

router = APIRouter()

TEMPLATES = FilePath(__file__).resolve().parent.parent / "templates" / "pages"
PAGE_SIZE = 10
COUNT_DEPTH = 50  # the counts beside the filters are over this many top documents
BRIDGES_SHOWN = 5
MAP_URL = "/map"

# Field -> what a researcher calls it; the order the filters are shown in.
FACETS = {"office": "Office", "region": "Region", "doc_type": "Document type",
          "language": "Language"}
MODES = {SearchMode.hybrid: "Meaning + keywords", SearchMode.dense: "Meaning",
         SearchMode.lexical: "Keywords"}
DOC_TYPES = {DocType.interview: "Interview", DocType.pitch_deck: "Pitch deck",
             DocType.report: "Report", DocType.other: "Note"}
LANGUAGES = {"en": "English", "fr": "French", "de": "German", "es": "Spanish",
             "it": "Italian", "pt": "Portuguese", "nl": "Dutch"}
# Formats a browser shows by itself ("open"); the others are downloaded. Subtitle files
# are sent as text/vtt and text/plain, which a browser displays, rather than as a download.
VIEWABLE = {".pdf", ".txt", ".md", ".vtt", ".srt"}
MEDIA_TYPES = {".vtt": "text/vtt", ".srt": "text/plain", ".md": "text/markdown"}

_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True)


class FormError(ValueError):
    """A search parameter a person can fix; its message says how."""


@dataclass(frozen=True)
class SearchForm:
    """The search form's values exactly as submitted: what the page shows back and links to."""

    q: str = ""
    mode: str = ""
    office: list[str] = field(default_factory=list)
    region: list[str] = field(default_factory=list)
    doc_type: list[str] = field(default_factory=list)
    language: list[str] = field(default_factory=list)
    date_from: str = ""
    date_to: str = ""
    offset: str = ""

    def selected(self, facet: str) -> set[str]:
        return {value.lower() for value in getattr(self, facet)}

    def has_filters(self) -> bool:
        return any(getattr(self, f) for f in FACETS) or bool(self.date_from or self.date_to)

    def url(self, offset: int = 0, *, filters: bool = True) -> str:
        """This search's address at ``offset`` (without its filters if asked): shareable."""
        pairs: list[tuple[str, str]] = [("q", self.q)] if self.q else []
        if self.mode:
            pairs.append(("mode", self.mode))
        if filters:
            pairs += [(f, v) for f in FACETS for v in getattr(self, f)]
            pairs += [(name, value) for name, value in
                      (("date_from", self.date_from), ("date_to", self.date_to)) if value]
        if offset:
            pairs.append(("offset", str(offset)))
        return "/?" + urlencode(pairs) if pairs else "/"


def search_form(
    q: str = "",
    mode: str = "",
    office: Annotated[list[str] | None, Query()] = None,
    region: Annotated[list[str] | None, Query()] = None,
    doc_type: Annotated[list[str] | None, Query()] = None,
    language: Annotated[list[str] | None, Query()] = None,
    date_from: str = "",
    date_to: str = "",
    offset: str = "",
) -> SearchForm:
    """The query string as plain strings: never a validation error, which would be JSON.

    ``run_search`` checks them and the page explains what is wrong instead.
    """
    return SearchForm(q=valid_utf8(q).strip(), mode=mode, office=office or [],
                      region=region or [], doc_type=doc_type or [], language=language or [],
                      date_from=date_from.strip(), date_to=date_to.strip(), offset=offset.strip())


@dataclass(frozen=True)
class Search:
    """A checked search: what the knowledge base is asked."""

    query: str
    mode: SearchMode
    filters: Filters
    offset: int


# --- parsing ----------------------------------------------------------------------
def _date(value: str, label: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise FormError(f"{label} “{value}” is not a date; use YYYY-MM-DD, "
                        "e.g. 2024-03-31.") from None


def _known(facet: str, values: list[str], known: Iterable[str]) -> list[str] | None:
    """``values`` spelled as stored (filters ignore case), or a message naming the options."""
    by_lower = {k.lower(): k for k in known}
    unknown = [v for v in values if v.lower() not in by_lower]
    if unknown:
        options = ", ".join(sorted(by_lower.values())) or "none yet"
        raise FormError(f"There is no {FACETS[facet].lower()} “{unknown[0]}”. "
                        f"Choose among: {options}.")
    return [by_lower[v.lower()] for v in values] or None


def _offset(value: str) -> int:
    if not value:
        return 0
    offset = whole_number(value, 0, MAX_OFFSET)
    if offset is None:
        raise FormError(f"The page offset must be a whole number from 0 to {MAX_OFFSET}.")
    return offset


def _mode(value: str, default: SearchMode) -> SearchMode:
    try:
        return SearchMode(value) if value else default
    except ValueError:
        names = ", ".join(f"{m.value} ({label.lower()})" for m, label in MODES.items())
        raise FormError(f"There is no search mode “{value}”; use {names}.") from None


def parse_search(form: SearchForm, options: dict[str, Counter[str]],
                 default_mode: SearchMode) -> Search:
    """The checked search, or ``FormError`` with a message a person can act on.

    Office, region and language must be values some document has (a typo would
    otherwise just find nothing); document types are a fixed list.
    """
    if len(form.q) > MAX_QUERY_CHARS:
        raise FormError(f"The query is {len(form.q)} characters long; "
                        f"the limit is {MAX_QUERY_CHARS}.")
    date_from, date_to = _date(form.date_from, "From"), _date(form.date_to, "To")
    if date_from and date_to and date_from > date_to:
        raise FormError(f"The date range is empty: from {date_from} is after to {date_to}.")
    chosen = {f: _known(f, getattr(form, f), DocType if f == "doc_type" else options[f])
              for f in FACETS}
    try:
        filters = Filters(**chosen, date_from=date_from, date_to=date_to)
    except ValidationError as exc:  # too many or too long values
        raise FormError(f"Too many or too long filter values: {exc.errors()[0]['msg']}.") from None
    return Search(query=form.q, mode=_mode(form.mode, default_mode), filters=filters,
                  offset=_offset(form.offset))


# --- counts -----------------------------------------------------------------------
def document_counts(kb: KnowledgeBase, filters: Filters | None = None) -> dict[str, Counter[str]]:
    """Documents per office, region, type and language (those passing ``filters``): the
    options the filters offer, and their counts when there is no query."""
    return kb.store.facet_counts(filters, list(FACETS))


def result_counts(results: list[DocumentHits]) -> dict[str, Counter[str]]:
    """Result documents per office, region, type and language."""
    return {f: Counter(str(getattr(r.document, f)) for r in results
                       if getattr(r.document, f) is not None) for f in FACETS}


@dataclass(frozen=True)
class FacetOption:
    value: str
    label: str
    count: int | None  # None: no search ran (the form had an error)
    checked: bool


def facet_options(form: SearchForm, options: dict[str, Counter[str]],
                  counts: dict[str, Counter[str]] | None) -> dict[str, list[FacetOption]]:
    """Each filter's options, with its count for this search (none after an error)."""
    def label(facet: str, value: str) -> str:
        if facet == "doc_type":
            return DOC_TYPES.get(DocType(value), value)
        if facet == "language":
            return f"{LANGUAGES[value]} ({value})" if value in LANGUAGES else value
        return value

    return {f: [FacetOption(value=v, label=label(f, v),
                            count=counts[f][v] if counts is not None else None,
                            checked=v.lower() in form.selected(f))
                for v in sorted(options[f], key=lambda v, f=f: label(f, v).lower())]
            for f in FACETS}


# --- words for the templates --------------------------------------------------------
def clock(seconds: float) -> str:
    """A moment in a recording as people read it: 02:40, or 1:02:40 past an hour."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def provenance_words(provenance: Provenance) -> str:
    """Where a passage sits, in words: "page 3", "slide 5, section …", "speaker …, 02:40"."""
    parts = []
    if provenance.page is not None:
        parts.append(f"page {provenance.page}")
    if provenance.slide is not None:
        parts.append(f"slide {provenance.slide}")
    if provenance.section:
        parts.append(f"section “{provenance.section}”")
    if provenance.speaker:
        parts.append(f"speaker {provenance.speaker}")
    if provenance.start_s is not None:
        end = f"–{clock(provenance.end_s)}" if provenance.end_s is not None else ""
        parts.append(f"{clock(provenance.start_s)}{end}")
    if provenance.ocr:
        parts.append("read by OCR")
    return ", ".join(parts)


def highlighted(snippet: str, spans: Iterable[tuple[int, int]]) -> Markup:
    """``snippet`` with its query terms in ``<mark>``: every piece escaped on its own.

    Offsets come from the search; out-of-range or overlapping ones are clipped or
    skipped so a bad span can never break the page or the escaping.
    """
    pieces: list[str] = []
    at = 0
    for start, end in sorted(spans):
        start, end = max(start, at), min(end, len(snippet))
        if start >= end:
            continue
        pieces += [escape(snippet[at:start]), Markup("<mark>"), escape(snippet[start:end]),
                   Markup("</mark>")]
        at = end
    pieces.append(escape(snippet[at:]))
    return Markup("").join(pieces)


def suffix(document: DocumentSummary | Document) -> str:
    return FilePath(document.source_path).suffix.lower()


def pdf_page(document: DocumentSummary | Document, provenance: Provenance | None) -> int | None:
    """The PDF page a passage is on; a PDF deck has one page per slide."""
    if provenance is None or suffix(document) != ".pdf":
        return None
    return provenance.page or provenance.slide


def file_url(document: DocumentSummary | Document, provenance: Provenance | None = None) -> str:
    """The original file, at the passage's page where a browser can go there (PDF)."""
    page = pdf_page(document, provenance)
    return f"/documents/{shown_id(DOCUMENT, document.id)}/file" + (
        f"#page={page}" if page else "")


def file_action(document: DocumentSummary | Document, provenance: Provenance | None = None) -> str:
    """The link's words: what the browser will do with the original, and where."""
    kind = suffix(document).lstrip(".").upper() or "file"
    if suffix(document) not in VIEWABLE:
        return f"Download the original ({kind})"
    page = pdf_page(document, provenance)
    return f"Open the PDF at page {page}" if page else f"Open the original ({kind})"


def shared_term(term: SharedTerm) -> str:
    """"2" for a term spelled alike, "weight = Gewicht" for a pair matched by meaning."""
    return term.source if term.exact else f"{term.source} = {term.target}"


_env.filters.update(shown=shown, document_token=lambda n: shown_id(DOCUMENT, n),
                    chunk_token=lambda n: shown_id(CHUNK, n), provenance=provenance_words,
                    file_url=file_url,
                    file_action=file_action,
                    shared_term=shared_term)
_env.globals.update(highlighted=highlighted, doc_types=DOC_TYPES, languages=LANGUAGES,
                    facets=FACETS, modes=MODES, map_url=MAP_URL)


def render(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_env.get_template(template).render(**context), status_code=status)


# --- the search page ----------------------------------------------------------------
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
def search_page(kb: Annotated[KnowledgeBase, Depends(get_kb)], access: PageAccess,
                form: Annotated[SearchForm, Depends(search_form)]) -> HTMLResponse:
    """Search, filter and page through every office's documents (the site's home)."""
    visible = access.restrict(Filters())
    options = document_counts(kb, visible) if visible is not None else \
        {facet: Counter() for facet in FACETS}
    try:
        search = parse_search(form, options, kb.settings.search_mode)
    except FormError as exc:
        mode = form.mode if form.mode in MODES else kb.settings.search_mode.value
        return render("search.html", 422, csrf=access.csrf, form=form, mode=mode,
                      error=str(exc), options=facet_options(form, options, None), results=None)
    filters = access.restrict(search.filters)
    results = run_search(kb, replace(search, filters=filters)) if filters is not None else \
        Results(documents=[], offset=0, total=0, more=False, counts=options)
    return render("search.html", csrf=access.csrf, form=form, mode=search.mode.value,
                  error=None, options=facet_options(form, options, results.counts),
                  results=results, page_size=PAGE_SIZE, count_depth=COUNT_DEPTH)


# --- the document page --------------------------------------------------------------
def _document_id(value: str) -> int | None:
    """The document a page address names, or None for anything else (never a 422)."""
    return stored_id(DOCUMENT, value)


def _bridges(kb: KnowledgeBase, doc_id: int, access: Access) -> list[Bridge]:
    try:
        return kb.bridges(BridgeQuery(document_id=doc_id, k=BRIDGES_SHOWN,
                                      visible_offices=access.offices)).bridges
    except LookupError:  # deleted by a re-index since the page read it
        return []


@router.get("/view/{doc_id}", response_class=HTMLResponse, include_in_schema=False)
def document_page(doc_id: str, kb: Annotated[KnowledgeBase, Depends(get_kb)],
                  access: PageAccess) -> HTMLResponse:
    """One document: what it is, its passages in order, its twins, what others found."""
    number = _document_id(doc_id)
    found = kb.document(number) if number is not None else None
    if found is None or not access.sees(found[0].office):
        return render("not_found.html", 404, csrf=access.csrf, doc_id=doc_id)
    document, chunks = found
    return render("document.html", csrf=access.csrf, document=document, chunks=chunks,
                  near_duplicates=[d for d in kb.near_duplicates(document.id)
                                   if access.sees(d.document.office)],
                  bridges=_bridges(kb, document.id, access))


# --- the original file --------------------------------------------------------------
def media_type(path: FilePath) -> str:
    """The file's media type; text is declared UTF-8, as the ingester reads it."""
    kind = MEDIA_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
    kind = kind or "application/octet-stream"
    return f"{kind}; charset=utf-8" if kind.startswith("text/") else kind


@router.get("/documents/{doc_id}/file", tags=["documents"],
            responses={200: {"content": {"application/octet-stream": {}}},
                       404: {"model": ErrorResponse}})
def document_file(doc_id: Annotated[str, Path(max_length=40)],
                  kb: Annotated[KnowledgeBase, Depends(get_kb)],
                  access: LinkAccess) -> FileResponse:
    """The document's original file, as ingested (the first of its paths still on disk).

    Only paths the database holds are ever read; a browser opens a PDF link ending in
    ``#page=N`` at that page.
    """
    number = stored_id(DOCUMENT, doc_id)
    found = kb.document(number) if number is not None else None
    if found is None or not access.sees(found[0].office):
        raise HTTPException(status_code=404, detail=f"no document with id {doc_id}")
    document = found[0]
    for candidate in (document.source_path, *document.paths):
        path = FilePath(candidate)
        if path.is_file():
            return FileResponse(path, media_type=media_type(path), filename=path.name,
                                content_disposition_type="inline")
    raise HTTPException(status_code=404,
                        detail=f"the file of document {doc_id} is no longer on disk")
