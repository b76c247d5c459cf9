"""Opening Office Open XML packages (PPTX, DOCX) with reasons a user can act on.

python-pptx and python-docx report every unreadable file as "Package not found": an
encrypted file, a truncated download and a renamed PDF all look the same. These helpers look
at the bytes first so the ingest report can say which it is.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ingest.document import ParseError
from ingest.parsers.common import declared_metadata, describe

T = TypeVar("T")

# Office encrypts an OOXML file by wrapping it in an OLE compound file (the .doc/.ppt format).
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def open_package(path: Path, opener: Callable[[str], T], kind: str) -> T:
    """Open ``path`` with ``opener`` (``pptx.Presentation``, ``docx.Document``), turning
    every failure into a ParseError naming ``kind``."""
    with path.open("rb") as handle:
        if handle.read(len(_OLE_MAGIC)) == _OLE_MAGIC:
            raise ParseError("encrypted")
    if not zipfile.is_zipfile(path):
        raise ParseError(f"malformed {kind}: not a zip archive (truncated or not a {kind}?)")
    try:
        return opener(str(path))
    except Exception as exc:  # the libraries raise anything from KeyError to lxml errors
        raise ParseError(f"malformed {kind}: {describe(exc)}") from exc


def core_metadata(core_properties: Any) -> dict[str, str]:
    """Title, author, date and language from the package's core properties."""
    return declared_metadata(
        title=core_properties.title,
        author=core_properties.author,
        created=core_properties.created,
        language=core_properties.language,
    )
