"""How much a single file may cost to parse.

Files now come from HTTP clients as well as from the offices' shares, and a small hostile
file can ask a parser for gigabytes (a zip bomb posing as a DOCX) or hours (a PDF claiming a
million pages). The limits are checked before a parser commits memory or time to a file; their
defaults are the settings' defaults, so code that parses without settings is held to the same
bounds as the service.
"""

from __future__ import annotations

from dataclasses import dataclass

from search.settings import Settings


def _setting_default(name: str) -> int:
    return int(Settings.model_fields[name].default)


@dataclass(frozen=True)
class ParseLimits:
    """``max_unzipped_bytes``: most bytes a DOCX or PPTX package may inflate to, all parts
    together; ``max_pdf_pages``: most pages a PDF may have."""

    max_unzipped_bytes: int = _setting_default("max_unzipped_bytes")
    max_pdf_pages: int = _setting_default("max_pdf_pages")


DEFAULT_LIMITS = ParseLimits()
