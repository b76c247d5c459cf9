"""Why a file failed, in words a user can act on, for the run's report.

Every exception met while reading one file ends here, so that the file fails and the run
goes on: the parsers' own reasons ("encrypted (needs a password)", "needs OCR: install
tesseract-ocr"), unreadable metadata files, the operating system's errors, and anything
unforeseen, which is logged with its traceback for the developers and reported in words.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from ingest.document import ParseError
from ingest.metadata import MetadataError
from ingest.parsers.common import describe
from search.records import FileFailure

log = logging.getLogger(__name__)

CANNOT_READ = "cannot read file"
UNFORESEEN = "could not be processed"


def failure_of(path: Path, exc: Exception) -> FileFailure:
    """``exc``, raised while reading ``path``, as the file's failure."""
    if isinstance(exc, ParseError):
        return FileFailure.of(str(path), exc.kind, exc.detail)
    if isinstance(exc, MetadataError):
        return FileFailure.of(str(path), "bad metadata file", str(exc))
    if isinstance(exc, OSError):
        return FileFailure.of(str(path), CANNOT_READ, exc.strerror or describe(exc))
    log.error("reading %s failed unexpectedly", path, exc_info=exc)
    return FileFailure.of(str(path), UNFORESEEN, describe(exc))


def is_fatal(exc: Exception) -> bool:
    """Whether ``exc`` is the knowledge base's own trouble (its database), which every
    other file would meet too: the run stops with it instead of failing file after file."""
    return isinstance(exc, sqlite3.Error)
