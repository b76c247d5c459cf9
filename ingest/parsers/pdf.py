"""PDF: one unit per page, with pypdf.

Damaged PDFs are common (truncated downloads, fuzzed or hand-edited files), so every step that
can fail says why in a ParseError instead of letting a library exception through.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from pypdf import PdfReader

from ingest.document import ParsedDocument, ParseError, Provenance, Unit
from ingest.parsers.common import declared_metadata, describe, require_units, tidy

# pypdf logs every repair it makes ("incorrect startxref pointer", "Object 172 0 not
# defined") at WARNING; the outcome is reported through ParseError, so keep this quiet.
logging.getLogger("pypdf").setLevel(logging.ERROR)


def parse(path: Path) -> ParsedDocument:
    """Extract the text of each page; pages without text (images, blank pages) are skipped."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = _open(path)
        units = _page_units(reader)
        metadata = _metadata(reader)
    return ParsedDocument(units=units, file_metadata=metadata)


def _open(path: Path) -> PdfReader:
    try:
        reader = PdfReader(path)
    except Exception as exc:  # pypdf raises many kinds of errors on damaged files
        raise ParseError(f"malformed PDF: {describe(exc)}") from exc
    if reader.is_encrypted:
        _decrypt(reader)
    try:
        len(reader.pages)  # reads the page tree, where most damage shows up
    except Exception as exc:
        raise ParseError(f"malformed PDF: {describe(exc)}") from exc
    return reader


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
