"""PDF: one unit per page, with pypdf; scanned pages by OCR, ruled tables row by row.

A page whose text layer holds (almost) nothing is rendered and read by OCR
(``ingest.ocr``, ``ingest.parsers.pdf_layout``); a page that draws a ruled table is read
with its table kept row by row.

Damaged PDFs are common (truncated downloads, fuzzed or hand-edited files), so every step
that can fail says why in a ParseError instead of letting a library exception through. Hostile
ones are too, now that clients upload files: :func:`check_limits` refuses a PDF with more
pages than allowed before any text is extracted.
"""

from __future__ import annotations

import logging
import math
import warnings
from pathlib import Path

from pypdf import PageObject, PdfReader, apply_configuration
from pypdf.errors import LimitReachedError

from ingest.cleaning import tidy
from ingest.document import ParsedDocument, ParseError, Provenance, Unit
from ingest.ocr import OcrReader, readable_chars
from ingest.parsers.common import EMPTY, ENCRYPTED, declared_metadata, describe
from ingest.parsers.limits import ParseLimits
from ingest.parsers.pdf_layout import PdfLayout

# pypdf logs every repair it makes ("incorrect startxref pointer", "Object 172 0 not
# defined") at WARNING; the outcome is reported through ParseError, so keep this quiet.
logging.getLogger("pypdf").setLevel(logging.ERROR)

# Page tree entries (pages and the /Pages nodes above them) walked per page allowed. Real
# trees hold one entry per page plus a few nodes; a tree that repeats its nodes to fake a
# huge count stops the walk here instead of creating one page object per fake page.
_TREE_ENTRIES_PER_PAGE = 3
MALFORMED = "malformed PDF"
TOO_MANY_PAGES = "too many pages"
# A first page's largest text is its title when it is this much larger than the body text.
_HEADING_SCALE = 1.15
_HEADING_MAX_CHARS = 160


def parse(path: Path, ocr: OcrReader) -> ParsedDocument:
    """The text of each page; pages without any (blank, or unreadable scans) are skipped.

    Walks the whole page tree: ``parse_file`` runs :func:`check_limits` first.
    """
    layout = PdfLayout(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            reader = _open(path)
            _read_page_tree(reader)
            units = _page_units(reader, layout, ocr)
            metadata = _metadata(reader)
            heading = _heading(reader.pages[0]) if units else None
        finally:
            layout.close()
    return ParsedDocument(units=units, file_metadata=metadata, heading=heading)


def check_limits(path: Path, limits: ParseLimits) -> None:
    """Refuse a PDF of more than ``limits.max_pdf_pages`` pages before any text is extracted.

    The declared page count (/Root /Pages /Count) costs nothing to read, and a count over the
    limit is refused at once, even if it lies: no valid file declares more pages than it has.
    A count within the limit is not trusted, as it can be lowered to hide a huge tree (one
    page object listed a million times makes a small file): the tree is then walked by pypdf
    with its number of entries bounded, so time and memory stay proportional to the limit.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = _open(path)
        declared = _declared_page_count(reader)
        if declared is not None and declared > limits.max_pdf_pages:
            raise ParseError(TOO_MANY_PAGES, f"{declared} (limit {limits.max_pdf_pages})")
        pages = _bounded_page_count(reader, limits.max_pdf_pages)
    if pages > limits.max_pdf_pages:
        raise ParseError(TOO_MANY_PAGES, f"{pages} (limit {limits.max_pdf_pages})")


def _declared_page_count(reader: PdfReader) -> int | None:
    """The page count the file declares, or None where it declares none readable."""
    try:
        count = reader.root_object["/Pages"]["/Count"]
    except Exception:  # a damaged catalog: the walk that follows says what is wrong
        return None
    return count if isinstance(count, int) else None


def _bounded_page_count(reader: PdfReader, max_pages: int) -> int:
    """The number of pages, walking at most ``_TREE_ENTRIES_PER_PAGE`` tree entries per page
    allowed. pypdf's other bounds on the walk (depth, array sizes) also mean a tree too
    large to count, so every limit it reaches is reported as such."""
    max_entries = _TREE_ENTRIES_PER_PAGE * max_pages
    try:
        with apply_configuration(page_tree_maximum_entries=max_entries):
            return len(reader.pages)
    except LimitReachedError as exc:
        raise ParseError(
            TOO_MANY_PAGES, f"page tree too large ({describe(exc)}) (limit {max_pages})"
        ) from exc
    except Exception as exc:
        raise ParseError(MALFORMED, describe(exc)) from exc


def _open(path: Path) -> PdfReader:
    """A reader ready to read objects: decrypted where an empty password opens it."""
    try:
        reader = PdfReader(path)
    except Exception as exc:  # pypdf raises many kinds of errors on damaged files
        raise ParseError(MALFORMED, describe(exc)) from exc
    if reader.is_encrypted:
        _decrypt(reader)
    return reader


def _read_page_tree(reader: PdfReader) -> None:
    try:
        len(reader.pages)  # reads the page tree, where most damage shows up
    except Exception as exc:
        raise ParseError(MALFORMED, describe(exc)) from exc


def _decrypt(reader: PdfReader) -> None:
    """Open a PDF that is encrypted only against editing or printing (empty user password)."""
    try:
        opened = reader.decrypt("")
    except Exception as exc:  # unsupported or broken encryption dictionaries
        raise ParseError(ENCRYPTED, f"unsupported encryption ({describe(exc)})") from exc
    if not opened:
        raise ParseError(ENCRYPTED)


def _page_units(reader: PdfReader, layout: PdfLayout, ocr: OcrReader) -> list[Unit]:
    units = []
    failures: list[Exception] = []
    for index, page in enumerate(reader.pages):
        try:
            text = layout.text_with_tables(index) or page.extract_text()
        except Exception as exc:  # a broken text layer: OCR may still read the page
            failures.append(exc)
            text = ""
        text, read = _with_ocr(text, index, layout, ocr)
        text = tidy(text)
        if text:
            units.append(Unit(text=text, provenance=Provenance(page=index + 1, ocr=read or None)))
    if not units and failures and not ocr.work.images:
        raise ParseError(MALFORMED, describe(failures[0]))
    if not units:
        raise ocr.unavailable or ParseError(EMPTY, "no text, and OCR found none" if
                                            ocr.work.images else "no text")
    return units


def _with_ocr(text: str, index: int, layout: PdfLayout, ocr: OcrReader) -> tuple[str, bool]:
    """The page's text, read by OCR where its text layer holds (almost) none, or always
    under ``ocr = force``; and whether OCR's text was kept."""
    if not ocr.wanted(text) or not ocr.available():
        return text, False
    image = layout.render(index, ocr.options.dpi)
    read = ocr.read(image) if image is not None else ""
    forced = ocr.options.mode == "force"
    if read.strip() and (forced or readable_chars(read) > readable_chars(text)):
        return read, True
    return text, False


def _heading(page: PageObject) -> str | None:
    """The first page's largest text, when it stands out from the body: its title."""
    runs: list[tuple[float, str]] = []

    def visit(text: str, cm: list[float], tm: list[float], _font: object, size: float) -> None:
        if text.strip():
            scale = math.hypot(tm[2], tm[3]) * math.hypot(cm[2], cm[3])
            runs.append((round(size * scale, 1), text))

    try:
        page.extract_text(visitor_text=visit)
    except Exception:  # a damaged page: the title comes from elsewhere
        return None
    if not runs:
        return None
    body = max({size for size, _ in runs}, key=lambda s: sum(len(t) for z, t in runs if z == s))
    for size in sorted({size for size, _ in runs}, reverse=True):
        if size < body * _HEADING_SCALE:
            break
        heading = " ".join(_first_run(runs, size).split())
        if sum(char.isalpha() for char in heading) >= 3 and len(heading) <= _HEADING_MAX_CHARS:
            return heading
    return None


def _first_run(runs: list[tuple[float, str]], size: float) -> str:
    """The text of the first consecutive runs of ``size``."""
    start = next(i for i, (z, _) in enumerate(runs) if z == size)
    end = next((i for i in range(start, len(runs)) if runs[i][0] != size), len(runs))
    return " ".join(text for _, text in runs[start:end])


def _metadata(reader: PdfReader) -> dict[str, str]:
    """Title, author, date and language as declared; an unreadable info dictionary is no
    reason to lose the text, so any failure here gives what could be read."""
    try:
        info = reader.metadata
        language = reader.root_object.get("/Lang")
    except Exception:
        return {}
    if info is None:
        return declared_metadata(language=language)
    try:
        created = info.creation_date
    except Exception:  # malformed date strings raise when parsed
        created = None
    return declared_metadata(
        title=info.title, author=info.author, created=created, language=language
    )
