"""PDF: one unit per page, with pypdf.

Damaged PDFs are common (truncated downloads, fuzzed or hand-edited files), so every step that
can fail says why in a ParseError instead of letting a library exception through. Hostile
ones are too, now that clients upload files: :func:`check_limits` refuses a PDF with more
pages than allowed before any text is extracted.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from pypdf import PdfReader, apply_configuration
from pypdf.errors import LimitReachedError

from ingest.document import ParsedDocument, ParseError, Provenance, Unit
from ingest.parsers.common import declared_metadata, describe, require_units, tidy
from ingest.parsers.limits import ParseLimits

# pypdf logs every repair it makes ("incorrect startxref pointer", "Object 172 0 not
# defined") at WARNING; the outcome is reported through ParseError, so keep this quiet.
logging.getLogger("pypdf").setLevel(logging.ERROR)

# Page tree entries (pages and the /Pages nodes above them) walked per page allowed. Real
# trees hold one entry per page plus a few nodes; a tree that repeats its nodes to fake a
# huge count stops the walk here instead of creating one page object per fake page.
_TREE_ENTRIES_PER_PAGE = 3


def parse(path: Path) -> ParsedDocument:
    """Extract the text of each page; pages without text (images, blank pages) are skipped.

    Walks the whole page tree: ``parse_file`` runs :func:`check_limits` first.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = _open(path)
        _read_page_tree(reader)
        units = _page_units(reader)
        metadata = _metadata(reader)
    return ParsedDocument(units=units, file_metadata=metadata)


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
            raise ParseError(f"too many pages: {declared} (limit {limits.max_pdf_pages})")
        pages = _bounded_page_count(reader, limits.max_pdf_pages)
    if pages > limits.max_pdf_pages:
        raise ParseError(f"too many pages: {pages} (limit {limits.max_pdf_pages})")


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
            f"too many pages: page tree too large ({describe(exc)}) (limit {max_pages})"
        ) from exc
    except Exception as exc:
        raise ParseError(f"malformed PDF: {describe(exc)}") from exc


def _open(path: Path) -> PdfReader:
    """A reader ready to read objects: decrypted where an empty password opens it."""
    try:
        reader = PdfReader(path)
    except Exception as exc:  # pypdf raises many kinds of errors on damaged files
        raise ParseError(f"malformed PDF: {describe(exc)}") from exc
    if reader.is_encrypted:
        _decrypt(reader)
    return reader


def _read_page_tree(reader: PdfReader) -> None:
    try:
        len(reader.pages)  # reads the page tree, where most damage shows up
    except Exception as exc:
        raise ParseError(f"malformed PDF: {describe(exc)}") from exc


def _decrypt(reader: PdfReader) -> None:
    """Open a PDF that is encrypted only against editing or printing (empty user password)."""
    try:
        opened = reader.decrypt("")
    except Exception as exc:  # unsupported or broken encryption dictionaries
        raise ParseError(f"encrypted ({describe(exc)})") from exc
    if not opened:
        raise ParseError("encrypted (needs a password)")


def _page_units(reader: PdfReader) -> list[Unit]:
    units = []
    failures: list[Exception] = []
    for number, page in enumerate(reader.pages, start=1):
        try:
            text = tidy(page.extract_text())
        except Exception as exc:  # one broken page should not lose the others
            failures.append(exc)
            continue
        if text:
            units.append(Unit(text=text, provenance=Provenance(page=number)))
    if not units and failures:
        raise ParseError(f"malformed PDF: {describe(failures[0])}")
    return require_units(units, "no extractable text (scanned?)")


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
