"""What an uploaded file is, judged by its content as well as its name.

An upload's name is whatever the client sent. A PNG named report.pdf or a PDF named .docx
would reach a parser that fails with a confusing reason, and binary junk named .txt would be
decoded and indexed as text. :func:`sniff` checks that the content is of the type its name
says, reading only the first 64 KB (and a DOCX's or PPTX's zip directory), and names what the
content really is where it can (magic numbers, via ``filetype``). The upload route answers
:class:`UnsupportedType` with HTTP 415.

What a file costs to parse (zip bombs, page counts) is checked later, by ``parse_file``.
"""

from __future__ import annotations

import codecs
import zipfile
from collections.abc import Callable
from functools import partial
from pathlib import Path, PurePath

import filetype

from ingest.document import ParseError
from ingest.parsers.encoding import bom_encoding
from ingest.parsers.office import OLE_MAGIC, check_zip_directory

# How much of a file is read to judge it: any magic number, and a fair sample of text.
HEAD_BYTES = 64 * 1024
# Suffixes that name the same type as another, canonical one.
_ALIASES = {".markdown": ".md"}
# What an Office Open XML package must hold: its content types and its main part.
_CONTENT_TYPES = "[Content_Types].xml"
_MAIN_PARTS = {".docx": "word/document.xml", ".pptx": "ppt/presentation.xml"}
# How messages name each type; the others are "text".
_LABELS = {".pdf": "a PDF", ".docx": "a DOCX", ".pptx": "a PPTX", ".vtt": "a WebVTT file"}

Check = Callable[[Path, bytes], None]


class UnsupportedType(ValueError):
    """An upload whose name is not of a supported type, or whose content is not of the type
    its name says; the message says which, for the client."""


def sniff(path: Path, declared_name: str) -> str:
    """The canonical suffix (".pdf", ".docx", ".md"...) of the file at ``path``, uploaded
    under ``declared_name``.

    Raises UnsupportedType when the name has no supported suffix or the content does not
    match it. Only the name's suffix is used, never its folders, so any client string is safe.
    """
    suffix = PurePath(declared_name).suffix.lower()
    check = CHECKS.get(suffix)
    if check is None:
        raise UnsupportedType(_unsupported_name(declared_name, suffix))
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    check(path, head)
    return _ALIASES.get(suffix, suffix)


def _unsupported_name(declared_name: str, suffix: str) -> str:
    supported = ", ".join(sorted(CHECKS))
    if not suffix:
        return f"no file type: {declared_name!r} has no suffix (supported: {supported})"
    return f"unsupported file type: {suffix} (supported: {supported})"


def _check_pdf(path: Path, head: bytes) -> None:
    if not head.startswith(b"%PDF-"):
        raise _mismatch(".pdf", head, "it does not start with %PDF-")


def _check_office(path: Path, head: bytes, suffix: str) -> None:
    """A zip package holding the parts of its kind; or an OLE compound file, which is how
    Office stores an encrypted package: accepted, so that the parser reports "encrypted".

    The zip directory is bounded before it is read, as it would be for parsing: a hostile
    one could otherwise cost gigabytes of memory here already.
    """
    if head.startswith(OLE_MAGIC):
        return
    try:
        if not check_zip_directory(path):
            raise _mismatch(suffix, head, "it is not a zip archive")
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except ParseError as exc:
        raise UnsupportedType(f"content is not {_LABELS[suffix]}: {exc.reason}") from None
    except zipfile.BadZipFile as exc:
        raise _mismatch(suffix, head, f"a damaged zip archive ({exc})") from None
    missing = [part for part in (_CONTENT_TYPES, _MAIN_PARTS[suffix]) if part not in names]
    if missing:
        raise _mismatch(suffix, head, f"a zip archive without {' or '.join(missing)}")


def _check_text(path: Path, head: bytes) -> None:
    _text_head(head, ".txt")


def _check_vtt(path: Path, head: bytes) -> None:
    # Leading blank lines are tolerated, as the subtitle parser tolerates them.
    if not _text_head(head, ".vtt").lstrip().startswith("WEBVTT"):
        raise _mismatch(".vtt", head, "it does not start with WEBVTT")


def _text_head(head: bytes, suffix: str) -> str:
    """The start of a text file, decoded. No text holds NUL bytes, except UTF-16 and UTF-32,
    which are accepted with a byte order mark (the text parser reads them so); the sample
    may end inside a character, which is not an error."""
    marked = bom_encoding(head)
    if marked is None:
        if b"\x00" in head:
            raise _mismatch(suffix, head, "it holds NUL bytes, so it is binary")
        return head.decode("utf-8", errors="replace")
    encoding, start = marked
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(head[start:])
    except UnicodeDecodeError:
        raise _mismatch(suffix, head, f"it does not decode as {encoding}") from None
    if "\x00" in text:
        raise _mismatch(suffix, head, "it holds NUL characters, so it is binary")
    return text


def _mismatch(suffix: str, head: bytes, reason: str) -> UnsupportedType:
    """The error for content that is not of type ``suffix``: named by its magic number where
    ``filetype`` knows another type, else ``reason``. A plain zip, or one ``filetype`` takes
    for this very type from its first entries, is described by ``reason``, which says more."""
    label = _LABELS.get(suffix, "text")
    kind = filetype.guess(head)
    if kind is None or kind.extension in ("zip", suffix[1:]):
        return UnsupportedType(f"content is not {label}: {reason}")
    return UnsupportedType(f"content is {kind.extension.upper()} ({kind.mime}), not {label}")


# One check per supported suffix (tests keep it in step with the parsers' suffixes).
CHECKS: dict[str, Check] = {
    ".pdf": _check_pdf,
    ".docx": partial(_check_office, suffix=".docx"),
    ".pptx": partial(_check_office, suffix=".pptx"),
    ".md": _check_text,
    ".markdown": _check_text,
    ".txt": _check_text,
    ".srt": _check_text,
    ".vtt": _check_vtt,
}
