"""Opening Office Open XML packages (PPTX, DOCX) with reasons a user can act on.

python-pptx and python-docx report every unreadable file as "Package not found": an
encrypted file, a truncated download and a renamed PDF all look the same. These helpers look
at the bytes first so the ingest report can say which it is, and refuse a package that would
inflate to more than the limits allow (a zip bomb) before either library reads it.
"""

from __future__ import annotations

import copy
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ingest.document import ParseError
from ingest.parsers.common import ENCRYPTED, declared_metadata, describe
from ingest.parsers.limits import ParseLimits

T = TypeVar("T")

ZIP_BOMB = "zip bomb suspected"

# Office encrypts an OOXML file by wrapping it in an OLE compound file (the .doc/.ppt format).
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# A package with more parts than this is refused: real documents have tens to hundreds
# (one per slide, image, chart...), and each entry costs memory before anything is read.
MAX_ENTRIES = 10_000
# The most bytes of zip directory loaded, which bounds the entries zipfile builds objects for
# (46 bytes and a name each): room for MAX_ENTRIES entries with 200-byte names.
MAX_DIRECTORY_BYTES = 256 * MAX_ENTRIES
# A part over _RATIO_FROM bytes that deflate shrank more than MAX_RATIO times is refused:
# XML and media compress 2-20:1, zeros 1000:1. Small parts are left alone, as their
# inflated size cannot matter and repetitive XML can legitimately compress well.
MAX_RATIO = 200
_RATIO_FROM = 10_000_000
# The compression methods OOXML allows (ECMA-376 part 2). zipfile inflates the others
# (bzip2, lzma) without bounding the output of one read, so they cannot be checked safely.
_OFFICE_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})
# Most bytes held at once while each part is inflated to compare it with its declared size.
_CHUNK = 1 << 20


def check_package(path: Path, limits: ParseLimits, kind: str) -> None:
    """Refuse a package whose parts would inflate beyond ``limits`` (a zip bomb), or which
    python-docx and python-pptx could not read within bounded memory.

    Covered:

    * The size of the central directory, from the end record, before zipfile loads it.
    * The declared sizes, from the central directory, before anything is inflated: the total
      against ``limits.max_unzipped_bytes``, each large part's compression ratio, the number
      of entries, and the compression methods.
    * Declared sizes that lie. zipfile bounds every read by the central directory (a part
      never yields more than its ``file_size``, from at most ``compress_size`` compressed
      bytes), so the declared total bounds what the libraries keep. But ``ZipFile.read``,
      which both libraries use, inflates up to 1 GiB per call before cutting the result to
      ``file_size``: a part declaring 1 KB can briefly cost a gigabyte (measured on Python
      3.11: a part declaring 1,000 bytes over 300 MB of deflated zeros reads as 1,000 bytes,
      after a peak of 580 MB). So every part is first inflated here in 1 MiB chunks and
      refused as soon as it outgrows its declared size.

    Not covered: every part is inflated twice, here and by the library, so the time spent
    on a package within the limits grows with its inflated size (bounded by the limit). XML
    entity expansion inside the parts is not a risk: both libraries parse with
    ``resolve_entities=False``.

    A file that is not a zip archive is left to :func:`open_package`, which says why.
    """
    if not check_zip_directory(path):
        return
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            _check_declared(entries, limits.max_unzipped_bytes, kind)
            for entry in entries:
                _check_inflation(archive, entry)
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as exc:
        raise ParseError(f"malformed {kind}", describe(exc)) from exc


def check_zip_directory(path: Path) -> bool:
    """Whether ``path`` is a zip archive (it ends with an end record), refusing one whose
    central directory is too large to load. Run before any ``ZipFile(path)``: ZipFile parses
    as many bytes of directory as the end record declares and builds an object of a few
    hundred bytes for every entry in them, however many entries the record claims."""
    with path.open("rb") as handle:
        # zipfile's own (private) reader of the end record, zip64 included: the very numbers
        # ZipFile goes by, where a reader of our own could be told different ones.
        end_record = zipfile._EndRecData(handle)
    if end_record is None:
        return False
    _check_entry_count(end_record[zipfile._ECD_ENTRIES_TOTAL])
    size = end_record[zipfile._ECD_SIZE]
    if size > MAX_DIRECTORY_BYTES:
        raise ParseError(ZIP_BOMB, f"zip directory of {_megabytes(size)} MB "
                         f"(limit {_megabytes(MAX_DIRECTORY_BYTES)} MB)")
    return True


def _check_entry_count(entries: int) -> None:
    if entries > MAX_ENTRIES:
        raise ParseError(ZIP_BOMB, f"{entries} entries (limit {MAX_ENTRIES})")


def _check_declared(entries: list[zipfile.ZipInfo], max_bytes: int, kind: str) -> None:
    """What the central directory says, checked before anything is inflated. The end record
    may have understated the number of entries, so they are counted again."""
    _check_entry_count(len(entries))
    for entry in entries:
        if entry.compress_type not in _OFFICE_METHODS:
            raise ParseError(f"malformed {kind}", f"{entry.filename} uses compression method "
                             f"{entry.compress_type} (Office uses deflate)")
    total = sum(entry.file_size for entry in entries)
    if total > max_bytes:
        raise ParseError(ZIP_BOMB, f"would inflate to {_megabytes(total)} MB "
                         f"(limit {_megabytes(max_bytes)} MB)")
    for entry in entries:
        ratio = entry.file_size / max(entry.compress_size, 1)
        if entry.file_size > _RATIO_FROM and ratio > MAX_RATIO:
            raise ParseError(ZIP_BOMB, f"compression ratio {ratio:.0f}:1 "
                             f"for {entry.filename} (limit {MAX_RATIO}:1)")
    # Many parts each under the per-part floor can still add up to a bomb.
    packed = sum(entry.compress_size for entry in entries)
    if total > _RATIO_FROM and total / max(packed, 1) > MAX_RATIO:
        raise ParseError(ZIP_BOMB, f"compression ratio {total / max(packed, 1):.0f}:1 over "
                         f"its {len(entries)} parts (limit {MAX_RATIO}:1)")


def _check_inflation(archive: zipfile.ZipFile, entry: zipfile.ZipInfo) -> None:
    """Inflate ``entry`` a chunk at a time and refuse it once it outgrows its declared size.

    The part is read through a copy of its entry that declares one chunk more, because
    zipfile ends a part at its declared size and then checks the CRC: without the slack, a
    lying part would only show as a bad CRC (or, with a forged CRC, not at all).
    """
    probe = copy.copy(entry)
    probe.file_size = entry.file_size + _CHUNK + 1
    inflated = 0
    with archive.open(probe) as stream:
        while chunk := stream.read(_CHUNK):
            inflated += len(chunk)
            if inflated > entry.file_size:
                raise ParseError(ZIP_BOMB, f"{entry.filename} inflates past the "
                                 f"{entry.file_size} bytes it declares")


def _megabytes(size: int) -> str:
    """Whole megabytes; below ten, with the decimal that rounding would hide."""
    megabytes = size / 1_000_000
    return f"{megabytes:.1f}".removesuffix(".0") if megabytes < 10 else f"{megabytes:.0f}"


def open_package(path: Path, opener: Callable[[str], T], kind: str) -> T:
    """Open ``path`` with ``opener`` (``pptx.Presentation``, ``docx.Document``), turning
    every failure into a ParseError naming ``kind``."""
    with path.open("rb") as handle:
        if handle.read(len(OLE_MAGIC)) == OLE_MAGIC:
            raise ParseError(ENCRYPTED)
    if not zipfile.is_zipfile(path):
        raise ParseError(f"malformed {kind}", f"not a zip archive (truncated or not a {kind}?)")
    try:
        return opener(str(path))
    except Exception as exc:  # the libraries raise anything from KeyError to lxml errors
        raise ParseError(f"malformed {kind}", describe(exc)) from exc


def core_metadata(core_properties: Any) -> dict[str, str]:
    """Title, author, date and language from the package's core properties."""
    return declared_metadata(
        title=core_properties.title,
        author=core_properties.author,
        created=core_properties.created,
        language=core_properties.language,
    )
