"""File parsers: one module per format, chosen by file suffix.

``parse_file`` is the only entry point ingest needs. It promises that a file either parses
or raises :class:`~ingest.document.ParseError` with a reason for the user: one bad file in a
folder of thousands must never stop an ingest run. Nor may one hostile file (a zip bomb, a
PDF of a million pages) exhaust the machine: formats whose cost a file controls have a cheap
check against :class:`ParseLimits` that runs before their parser. Whatever a parser
returns passes the one cleaning step (``ingest.cleaning``) before anyone else sees it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ingest.cleaning import clean_document
from ingest.document import ParsedDocument, ParseError
from ingest.ocr import DEFAULT_OCR, OcrOptions, OcrReader
from ingest.parsers import docx, markdown, pdf, pptx, subtitles, text
from ingest.parsers.common import EMPTY, describe
from ingest.parsers.limits import DEFAULT_LIMITS, ParseLimits

TextParser = Callable[[Path], ParsedDocument]
LayoutParser = Callable[[Path, OcrReader], ParsedDocument]
Check = Callable[[Path, ParseLimits], None]

# Formats of pages and pictures: their parsers may need OCR.
LAYOUT_PARSERS: dict[str, LayoutParser] = {
    ".pdf": pdf.parse,
    ".pptx": pptx.parse,
    ".docx": docx.parse,
}
TEXT_PARSERS: dict[str, TextParser] = {
    ".md": markdown.parse,
    ".markdown": markdown.parse,
    ".txt": text.parse,
    ".vtt": subtitles.parse,
    ".srt": subtitles.parse,
}

# Checks for the formats whose parsing cost a file controls, run before the parser: each
# refuses from what the file declares (zip directory, page count) while holding little in
# memory. A text format costs at most its size, which the caller bounds.
LIMIT_CHECKS: dict[str, Check] = {
    ".pdf": pdf.check_limits,
    ".pptx": pptx.check_limits,
    ".docx": docx.check_limits,
}

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(LAYOUT_PARSERS) | frozenset(TEXT_PARSERS)


def parse_file(path: Path, limits: ParseLimits = DEFAULT_LIMITS,
               ocr: OcrOptions = DEFAULT_OCR) -> ParsedDocument:
    """Parse ``path`` with the parser for its (lower-cased) suffix, within ``limits``,
    reading pictures and scans as ``ocr`` says; the text comes out cleaned.

    Raises ParseError for unsupported suffixes, empty or unreadable files, files beyond
    ``limits``, and wraps any other exception a parser lets escape.
    """
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ParseError("unsupported file type", suffix or "(no suffix)")
    reader = ocr.reader()
    try:
        if path.stat().st_size == 0:
            raise ParseError(EMPTY, "0 bytes")
        if suffix in LIMIT_CHECKS:
            LIMIT_CHECKS[suffix](path, limits)
        parsed = (LAYOUT_PARSERS[suffix](path, reader) if suffix in LAYOUT_PARSERS
                  else TEXT_PARSERS[suffix](path))
    except ParseError:
        raise
    except OSError as exc:
        raise ParseError("cannot read file", exc.strerror or describe(exc)) from exc
    except Exception as exc:  # the promise above: no library exception reaches the caller
        raise ParseError(f"malformed {suffix[1:].upper()}", describe(exc)) from exc
    parsed.ocr = reader.work
    cleaned = clean_document(parsed)
    if not cleaned.units:
        raise ParseError(EMPTY, "no text")
    return cleaned
