"""Small helpers several parsers share, so each format module stays about its format."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from ingest.document import ParseError, Unit

EMPTY = "empty"
ENCRYPTED = "encrypted (needs a password)"

# Speaker labels of transcripts: "Q:", "A:", "Name:", "Firstname Lastname:", "Dr. Jane Doe:".
_NAME_WORD = r"[^\W\d_][\w'’.-]*"
_SPEAKER_LABEL = re.compile(
    # French typography puts a (no-break) space before the colon: "Claire Dubois : Bonjour".
    rf"^\s*(?P<name>{_NAME_WORD}(?: {_NAME_WORD}){{0,2}})[ \u00a0\u202f]?:[ \t]+(?P<text>\S.*)$"
)

# Header fields of transcripts that give their title, in the offices' languages.
TITLE_FIELDS = frozenset({"title", "titre", "titel", "título", "titulo", "subject", "sujet",
                          "thema", "tema", "topic"})


def one_line(text: str) -> str:
    """Collapse all whitespace, for text used as a label (a section title, a speaker)."""
    return " ".join(text.split())


def shorten(text: str, limit: int = 80) -> str:
    """Cut ``text`` to about ``limit`` characters at a word boundary, marking the cut."""
    text = one_line(text)
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return cut.rstrip(" ,;:.") + "…"


def describe(exc: BaseException) -> str:
    """An exception in words, for a reason shown to users: its message, never a class name
    from a library ("PdfReadError") that means nothing to them."""
    return shorten(str(exc), 120).strip(" '\"") or "an unexpected error in the file"


def render_table(rows: Iterable[Iterable[str]]) -> str:
    """Rows as lines of " | "-joined cells; rows with no text at all are dropped."""
    lines = []
    for row in rows:
        cells = [one_line(cell) for cell in row]
        if any(cells):
            lines.append(" | ".join(cells))
    return "\n".join(lines)


def split_speaker(line: str) -> tuple[str, str] | None:
    """``(speaker, text)`` when ``line`` starts with a speaker label, else None.

    Every word of the label must start with a capital letter so that ordinary sentences with
    a colon ("note that: ...", "see below: ...") are not taken for speaker turns.
    """
    match = _SPEAKER_LABEL.match(line)
    if match is None:
        return None
    name = match["name"]
    if not all(word[0].isupper() for word in name.split()):
        return None
    return name, match["text"].strip()


def require_units(units: list[Unit], failure: ParseError | None = None) -> list[Unit]:
    """Refuse a document without any text: indexing it would only hide the problem.
    ``failure`` says why where the parser knows better than "no text" (it needed OCR)."""
    if not units:
        raise failure or ParseError(EMPTY, "no text")
    return units


def iso_date(value: Any) -> str | None:
    """``yyyy-mm-dd`` for a date or datetime, None for anything else."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return None


def declared_metadata(
    title: Any = None, author: Any = None, created: Any = None, language: Any = None
) -> dict[str, str]:
    """What a file declares about itself, without empty values (whether a declared title is
    one a person would write is ``ingest.titles``' question)."""
    values = {
        "title": one_line(str(title or "")),
        "author": one_line(str(author or "")),
        "date": iso_date(created) or "",
        "language": one_line(str(language or "")),
    }
    return {key: value for key, value in values.items() if value}
