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
    """A file that cannot be turned into text; ``reason`` is shown to the user.

    Raised for encrypted, malformed, empty or image-only files. The ingest run
    reports it with the file's path and goes on with the next file.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Unit:
    """One structural unit of a document (page, slide, section, turn, cue)."""

    text: str
    provenance: Provenance = field(default_factory=Provenance)


@dataclass
class ParsedDocument:
    """A file's text in structural units, plus what the file says about itself.

    ``file_metadata`` holds what the file itself declares (title, author, date,
    language, office...), the lowest-precedence metadata source; YAML front
    matter found by a parser also lands here under ``front_matter``.
    """

    units: list[Unit]
    file_metadata: dict[str, Any] = field(default_factory=dict)
    front_matter: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n\n".join(u.text for u in self.units)


__all__ = ["ParseError", "ParsedDocument", "Provenance", "Unit"]
