"""File parsers: one module per format, chosen by file suffix.

``parse_file`` is the only entry point ingest needs. It promises that a file either parses
or raises :class:`~ingest.document.ParseError` with a reason for the user: one bad file in a
folder of thousands must never stop an ingest run. Nor may one hostile file (a zip bomb, a
PDF of a million pages) exhaust the machine: formats whose cost a file controls have a cheap
check against :class:`ParseLimits` that runs before their parser.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ingest.document import ParsedDocument, ParseError
from ingest.parsers import docx, markdown, pdf, pptx, subtitles, text
from ingest.parsers.common import describe
from ingest.parsers.limits import DEFAULT_LIMITS, ParseLimits

Parser = Callable[[Path], ParsedDocument]
Check = Callable[[Path, ParseLimits], None]

PARSERS: dict[str, Parser] = {
    ".pdf": pdf.parse,
    ".pptx": pptx.parse,
    ".docx": docx.parse,
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

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(PARSERS)


def parse_file(path: Path, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedDocument:
    """Parse ``path`` with the parser for its (lower-cased) suffix, within ``limits``.

    Raises ParseError for unsupported suffixes, empty or unreadable files, files beyond
    ``limits``, and wraps any other exception a parser lets escape, naming the parser and
    the error.
    """
    suffix = path.suffix.lower()
    parser = PARSERS.get(suffix)
    if parser is None:
        raise ParseError(f"unsupported file type: {suffix or '(no suffix)'}")
    try:
        if path.stat().st_size == 0:
            raise ParseError("empty file")
        if suffix in LIMIT_CHECKS:
            LIMIT_CHECKS[suffix](path, limits)
        return parser(path)
    except ParseError:
        raise
    except OSError as exc:
        raise ParseError(f"cannot read file: {exc.strerror or describe(exc)}") from exc
    except Exception as exc:  # the promise above: no library exception reaches the caller
        raise ParseError(f"{suffix[1:]} parser failed: {describe(exc)}") from exc

