"""Markdown: YAML front matter plus one unit per section under an ATX heading (# to ######).

Each unit's section is the path of headings above it ("Install > Linux"), so a short section
still says what it is about once it is cut out of the document.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import frontmatter

from ingest.cleaning import tidy
from ingest.document import ParsedDocument, Provenance, Unit
from ingest.parsers.common import one_line, require_units
from ingest.parsers.encoding import decode_bytes

_ATX_HEADING = re.compile(r"^ {0,3}(?P<marks>#{1,6})[ \t]+(?P<title>.*?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"[*`]+")


def parse(path: Path) -> ParsedDocument:
    front_matter, body = _split_front_matter(decode_bytes(path.read_bytes()))
    units, title = _sections(body)
    return ParsedDocument(
        units=require_units(units),
        file_metadata={"title": title} if title else {},
        front_matter=front_matter,
    )


def _split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Front matter as plain values; broken YAML leaves the text as it is rather than
    losing the document."""
    try:
        metadata, body = frontmatter.parse(text)
    except Exception:  # yaml raises several error classes for malformed front matter
        return {}, text
    return {str(key): _plain(value) for key, value in metadata.items()}, body


def _plain(value: Any) -> Any:
    """YAML dates as ISO strings, so front matter can be stored as JSON like other metadata."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return value


def _sections(body: str) -> tuple[list[Unit], str | None]:
    """Units split at headings outside fenced code, and the first level-1 heading."""
    units: list[Unit] = []
    path: list[tuple[int, str]] = []  # the (level, title) headings above the current line
    lines: list[str] = []
    first_h1: str | None = None
    fence: str | None = None

    def flush() -> None:
        text = tidy("\n".join(lines))
        if text:
            section = " > ".join(title for _, title in path) or None
            units.append(Unit(text=text, provenance=Provenance(section=section)))

    for line in body.split("\n"):
        heading = None if fence else _ATX_HEADING.match(line)
        fence = _track_fence(line, fence)
        title = _heading_title(heading["title"]) if heading else ""
        if not title:
            lines.append(line)
            continue
        flush()
        level = len(heading["marks"])
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, title))
        if level == 1 and first_h1 is None:
            first_h1 = title
        lines = [title]
    flush()
    return units, first_h1


def _track_fence(line: str, fence: str | None) -> str | None:
    """The open code fence after ``line``: "#" lines inside code are comments, not headings."""
    match = _FENCE.match(line)
    if fence is None:
        return match["fence"] if match else None
    stripped = line.strip()
    closes = stripped.startswith(fence) and set(stripped) == {fence[0]}
    return None if closes else fence


def _heading_title(raw: str) -> str:
    """Heading text without markup: badges dropped, links reduced to their text."""
    return one_line(_EMPHASIS.sub("", _LINK.sub(r"\1", _IMAGE.sub("", raw))))
