"""The parsed document: what every parser returns, before metadata and chunking.

A parser turns one file into a :class:`ParsedDocument`: an ordered list of
:class:`Unit` objects that follow the file's own structure (a PDF page, a slide,
a section under a heading, a question with its answer, a transcript cue). The
chunker later packs or splits units to a token budget, so parsers never cut text
themselves; they only say where it came from (``search.records.Provenance``,
the same record the knowledge base stores with each chunk).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from search.records import Provenance


class ParseError(Exception):
    """A file that cannot be turned into text, and why, in words a user can act on.

    ``kind`` groups failures in a run's report ("empty", "needs OCR", "malformed PDF",
    "encrypted (needs a password)"); ``detail`` says more about this file. Raised for
    encrypted, malformed, empty or image-only files: the run reports it with the file's path
    and goes on with the next file.
    """

    def __init__(self, kind: str, detail: str | None = None) -> None:
        self.kind = kind
        self.detail = detail
        super().__init__(self.reason)

    @property
    def reason(self) -> str:
        return f"{self.kind}: {self.detail}" if self.detail else self.kind


@dataclass
class Unit:
    """One structural unit of a document (page, slide, section, turn, cue)."""

    text: str
    provenance: Provenance = field(default_factory=Provenance)


@dataclass
class OcrWork:
    """What OCR read in one file: how many images (pages, pictures) and in how long."""

    images: int = 0
    seconds: float = 0.0


@dataclass
class ParsedDocument:
    """A file's text in structural units, plus what the file says about itself.

    ``file_metadata`` holds what the file itself declares (title, author, date,
    language...), the lowest-precedence metadata source; YAML front matter found by a
    parser lands in ``front_matter``. ``heading`` is the title a reader sees on the
    document itself (its first heading, first slide's title, the largest line of its first
    page, an interview's header): the title when the declared one is missing or junk.
    """

    units: list[Unit]
    file_metadata: dict[str, Any] = field(default_factory=dict)
    front_matter: dict[str, Any] = field(default_factory=dict)
    heading: str | None = None
    ocr: OcrWork = field(default_factory=OcrWork)

    @property
    def text(self) -> str:
        return "\n\n".join(u.text for u in self.units)


__all__ = ["OcrWork", "ParseError", "ParsedDocument", "Provenance", "Unit"]
