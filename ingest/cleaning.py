"""The text-cleaning step at the parser boundary: every parser's output passes here once.

Extracted text carries the marks of how it was stored, not what it says: lone surrogates
from broken PDF font maps (which crash any UTF-8 encoder downstream), control characters,
bullets drawn as U+007F or a private-use glyph, "ﬁ" ligatures that no query contains,
words hyphenated at a line end, mojibake from a wrong code page, and running headers and
page numbers that repeat on every page and drown a page's own words. Cleaning them in one
place, for every format, means no parser can forget one and no chunk in the index holds a
control character. Mojibake, C1 controls, ligatures and normalisation are ftfy's
(a library made for exactly this); the rest is below.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import ftfy

from ingest.document import ParsedDocument, Provenance, Unit

_FTFY = ftfy.TextFixerConfig(
    unescape_html=False,  # "&amp;" in a PDF is what the author wrote
    fix_character_width=False,  # full-width forms are meaningful in CJK text
    uncurl_quotes=False,
    normalization="NFC",
    explain=False,
)

# A surrogate half without its other half: valid in a Python str, not in UTF-8.
_LONE_SURROGATE = re.compile(
    r"[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]")
# Every control character but tab and newline: C0, DEL and C1 (after ftfy has decoded
# the C1 characters that were Windows-1252 punctuation).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Office breaks lines inside a paragraph with a vertical tab, pages with a form feed.
_BREAKS = str.maketrans({"\x0b": "\n", "\x0c": "\n", "\r": "\n", "\u2028": "\n", "\u2029": "\n",
                         "\x00": None})
# Glyphs that start a list item: typographic bullets, Wingdings/Symbol private-use bullets,
# and DEL, which PDF fonts without a Unicode map for their bullet often produce.
_BULLETS = "\u2022\u2023\u2043\u2219\u25aa\u25ab\u25cf\u25cb\u25a0\u25a1\u25e6\u25ba\u27a2" \
           "\u2794\u2756\u2713\u2714\uf0a7\uf0b7\uf076\uf0d8\uf0fc\uf06e\uf0a8\x7f\x95"
# A bullet at the start of a line, then the item's text (on the same line or the next,
# where PDF extraction puts the glyph on a line of its own).
_BULLET_ITEM = re.compile(rf"^[ \t]*[{_BULLETS}][ \t]*(?:\n[ \t]*)?(?=\S)", re.MULTILINE)
_LONE_BULLET = re.compile(rf"^[ \t]*[{_BULLETS}][ \t]*$", re.MULTILINE)
# "hyphen-\nated": a word cut at a line end, continued in lower case on the next line.
_HYPHENATED = re.compile(r"(?<=[^\W\d_])[-\u00ad]\n[ \t]*(?=[^\W\d_])")
_SOFT_HYPHEN = "\u00ad"
_TRAILING_SPACE = re.compile(r"[ \t]+\n")
_INNER_SPACE = re.compile(r"(?<=\S)[ \t]{2,}")
_BLANK_RUNS = re.compile(r"\n{3,}")
_DIGITS = re.compile(r"\d+")

# Running lines: the lines this close to a page's top or bottom are compared across pages,
# and one found on more than this share of the pages (and on at least _MIN_PAGES) is
# a running header, footer or page number, not content.
_EDGE_LINES = 2
_RUNNING_SHARE = 0.5
_MIN_PAGES = 3


def clean_text(text: str) -> str:
    """``text`` as a reader would type it: see the module's docstring for each step."""
    if not text:
        return ""
    text = _LONE_SURROGATE.sub("", text)
    text = text.replace("\r\n", "\n").translate(_BREAKS)
    text = _BULLET_ITEM.sub("- ", text)
    text = _LONE_BULLET.sub("", text)
    text = ftfy.fix_text(text, _FTFY)
    text = _HYPHENATED.sub(_join_hyphenated, text)
    return tidy(_CONTROL.sub("", text.replace(_SOFT_HYPHEN, "")))


def tidy(text: str) -> str:
    """Whitespace only: line breaks as newlines, runs of spaces inside a line as one
    (indentation is kept), no trailing spaces, at most one blank line in a row, no
    surrounding whitespace. Parsers tidy each unit as they build it."""
    text = text.replace("\r\n", "\n").translate(_BREAKS)
    text = _TRAILING_SPACE.sub("\n", _INNER_SPACE.sub(" ", text))
    return _BLANK_RUNS.sub("\n\n", text).strip()


def clean_label(text: str | None) -> str | None:
    """A one-line label (a title, a section, a speaker) cleaned like text; None when empty."""
    cleaned = " ".join(clean_text(text or "").split())
    return cleaned or None


def clean_document(document: ParsedDocument) -> ParsedDocument:
    """The parsed document with every text cleaned, running lines dropped from paged units,
    and units left empty removed."""
    units = [Unit(clean_text(u.text), _clean_provenance(u.provenance)) for u in document.units]
    units = [u for u in _drop_running_lines(units) if u.text]
    return ParsedDocument(
        units=units,
        file_metadata=_clean_values(document.file_metadata),
        front_matter=_clean_values(document.front_matter),
        heading=clean_label(document.heading),
        ocr=document.ocr,
    )


def _join_hyphenated(match: re.Match[str]) -> str:
    """Join the halves when the continuation is lower case ("treat-\\nment"); keep the
    hyphen and the break before a capital ("Real-\\nWorld")."""
    following = match.string[match.end()]
    return "" if following.islower() else match.group(0).replace(_SOFT_HYPHEN, "-")


def _clean_provenance(provenance: Provenance) -> Provenance:
    if provenance.section is None and provenance.speaker is None:
        return provenance
    return provenance.model_copy(update={"section": clean_label(provenance.section),
                                         "speaker": clean_label(provenance.speaker)})


def _clean_values(values: dict[str, Any]) -> dict[str, Any]:
    return {str(key): _clean_value(value) for key, value in values.items()}


def _clean_value(value: Any) -> Any:
    if isinstance(value, str):
        return clean_label(value) or ""
    if isinstance(value, list):
        return [_clean_value(item) for item in value]
    if isinstance(value, dict):
        return _clean_values(value)
    return value


def _drop_running_lines(units: list[Unit]) -> list[Unit]:
    """Units without the lines that repeat at the top or bottom of most pages (or slides):
    running headers, footers and page numbers ("Page 3 of 12" matches "Page 4 of 12").
    A running line that never changes and holds words (a company's name, a report's title)
    stays once, where it first appears, so that a search for those words still finds it."""
    paged = [i for i, u in enumerate(units)
             if u.provenance.page is not None or u.provenance.slide is not None]
    if len(paged) < _MIN_PAGES:
        return units
    edges = {i: _edge_lines(units[i].text) for i in paged}
    seen = Counter(key for i in paged for key in {_line_key(line) for _, line in edges[i]})
    running = {key for key, pages in seen.items()
               if pages >= _MIN_PAGES and pages > _RUNNING_SHARE * len(paged)}
    variants: dict[str, set[str]] = {}
    for i in paged:
        for _, line in edges[i]:
            variants.setdefault(_line_key(line), set()).add(" ".join(line.split()))
    keep_once = {key for key in running
                 if len(variants[key]) == 1 and any(c.isalpha() for c in key)}
    cleaned = list(units)
    for i in paged:
        first = keep_once & {_line_key(line) for _, line in edges[i]}
        keep_once -= first
        text = _without_lines(units[i].text, running - first)
        if sum(c.isalpha() for c in text) == 0:  # its only words: they are the page itself
            text = units[i].text if sum(c.isalpha() for c in units[i].text) >= 3 else ""
        cleaned[i] = Unit(text, units[i].provenance)
    return cleaned


def _edge_lines(text: str) -> list[tuple[int, str]]:
    """The first and last non-blank lines of ``text``, with their line numbers."""
    lines = [(i, line) for i, line in enumerate(text.split("\n")) if line.strip()]
    return lines[:_EDGE_LINES] + lines[-_EDGE_LINES:]


def _line_key(line: str) -> str:
    """A line with its numbers masked, so that page numbers compare equal."""
    return _DIGITS.sub("#", " ".join(line.split()).lower())


def _without_lines(text: str, running: set[str]) -> str:
    """``text`` without its edge lines that are running lines; the same words mid-page stay."""
    dropped = {i for i, line in _edge_lines(text) if _line_key(line) in running}
    return "\n".join(line for i, line in enumerate(text.split("\n")) if i not in dropped).strip()
