"""Rendering the web pages: the Jinja2 templates (autoescaped) and the words they use.

The filters turn records into what a researcher reads: where a passage sits, a link to
the original file and what the browser will do with it, query terms highlighted.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from api.page_facets import DOC_TYPES, LANGUAGES
from api.page_forms import FACETS, MODES
from search.path_names import shown
from search.public_ids import CHUNK, DOCUMENT, shown_id
from search.records import Document, DocumentSummary, Provenance, SharedTerm

TEMPLATES = Path(__file__).resolve().parent / "templates" / "pages"
MAP_URL = "/map"
# Formats a browser shows by itself ("open"); the others are downloaded (the file route,
# api.routers.documents, sends subtitles as text a browser displays).
VIEWABLE = {".pdf", ".txt", ".md", ".vtt", ".srt"}


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


def file_suffix(document: DocumentSummary | Document) -> str:
    return Path(document.source_path).suffix.lower()


def pdf_page(document: DocumentSummary | Document, provenance: Provenance | None) -> int | None:
    """The PDF page a passage is on; a PDF deck has one page per slide."""
    if provenance is None or file_suffix(document) != ".pdf":
        return None
    return provenance.page or provenance.slide


def file_url(document: DocumentSummary | Document, provenance: Provenance | None = None) -> str:
    """The original file, at the passage's page where a browser can go there (PDF)."""
    page = pdf_page(document, provenance)
    return f"/documents/{shown_id(DOCUMENT, document.id)}/file" + (
        f"#page={page}" if page else "")


def file_action(document: DocumentSummary | Document, provenance: Provenance | None = None) -> str:
    """The link's words: what the browser will do with the original, and where."""
    kind = file_suffix(document).lstrip(".").upper() or "file"
    if file_suffix(document) not in VIEWABLE:
        return f"Download the original ({kind})"
    page = pdf_page(document, provenance)
    return f"Open the PDF at page {page}" if page else f"Open the original ({kind})"


def shared_term(term: SharedTerm) -> str:
    """"2" for a term spelled alike, "weight = Gewicht" for a pair matched by meaning."""
    return term.source if term.exact else f"{term.source} = {term.target}"


_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True)
_env.filters.update(shown=shown, document_token=lambda n: shown_id(DOCUMENT, n),
                    chunk_token=lambda n: shown_id(CHUNK, n), provenance=provenance_words,
                    file_url=file_url, file_action=file_action, shared_term=shared_term)
_env.globals.update(highlighted=highlighted, doc_types=DOC_TYPES, languages=LANGUAGES,
                    facets=FACETS, modes=MODES, map_url=MAP_URL)


def render(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_env.get_template(template).render(**context), status_code=status)
