"""Uploads: files from HTTP clients, kept under the data directory and ingested (by the
upload jobs of ``api.jobs``).

The client's file name is used for two things only: its suffix (which parser)
and the document's default title. It never reaches the file system: the
original is stored as ``uploads/<random hex><suffix>``. Its content must match
its name (``ingest.filetypes.sniff``: a PNG named .pdf is refused), and the
parsers refuse zip bombs and absurd page counts before reading them.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from ingest.discovery import Root
from ingest.filetypes import UnsupportedType, sniff
from ingest.parsers import SUPPORTED_SUFFIXES
from ingest.pipeline import Ingestor
from search.knowledge_base import KnowledgeBase
from search.records import printable
from search.writer import WriterBusyError

UPLOADS = "uploads"


@dataclass(frozen=True)
class Received:
    """One uploaded file: the name the client gave, and where its bytes now are."""

    client_name: str
    stored: Path


@dataclass(frozen=True)
class Outcome:
    client_name: str
    document_id: int | None
    status: str  # added, duplicate or failed
    error: str | None = None


class BadFileName(ValueError):
    """A client's file name that cannot be shown (control characters, NUL)."""


def client_name(raw: str | None) -> str:
    """The last component of a client's file name, for display only."""
    name = PurePosixPath((raw or "").replace("\\", "/")).name.strip()
    try:
        return printable(name[:200]) or "upload"
    except ValueError as exc:
        raise BadFileName(f"file name {name[:200]!r} {exc}") from exc


def uploads_dir(kb: KnowledgeBase) -> Path:
    folder = kb.settings.data_dir / UPLOADS
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def receive(kb: KnowledgeBase, raw_name: str | None, content: BinaryIO) -> Received:
    """Store one file under a generated name; ``UnsupportedType`` when it is not one we read."""
    name = client_name(raw_name)
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnsupportedType(f"{name}: unsupported file type {suffix or '(no suffix)'}; "
                              f"send one of {', '.join(sorted(SUPPORTED_SUFFIXES))}")
    stored = uploads_dir(kb) / f"{uuid.uuid4().hex}{suffix}"
    with stored.open("wb") as out:
        shutil.copyfileobj(content, out, length=1 << 20)
    try:
        sniff(stored, name)
    except UnsupportedType:
        stored.unlink(missing_ok=True)
        raise
    return Received(name, stored)


def ingest(kb: KnowledgeBase, files: list[Received], metadata: dict[str, Any],
           stopping: Callable[[], bool] = lambda: False,
           lock_wait_s: float = 0.0) -> list[Outcome] | None:
    """Ingest the stored files: prepared and embedded without the write lock, then written
    and published under it, waiting for it while another run holds it (None when
    ``stopping`` says to give up). A file that fails is removed again."""
    # an upload is its office's own document, even where another office holds the same
    # bytes: nothing about the other is linked to it or said of it
    identity = f"upload:{str(metadata.get('office') or '').casefold()}"
    roots = [Root(path=f.stored, source=UPLOADS, file_name=f.client_name, identity=identity)
             for f in files]
    ingestor = Ingestor(kb, metadata)
    ahead = ingestor.embed_ahead(roots)
    while True:
        try:
            report = ingestor.run(roots, kind="upload", trigger="api", ahead=ahead,
                                  wait_s=lock_wait_s)
            break
        except WriterBusyError:
            if stopping():
                return None
    failed = {str(Path(f.path).resolve()): f.reason for f in report.failed}
    duplicates = set(report.duplicates)
    outcomes = []
    for f in files:
        path = str(f.stored.resolve())
        if path in failed:
            f.stored.unlink(missing_ok=True)
            outcomes.append(Outcome(f.client_name, None, "failed", failed[path]))
            continue
        known = kb.known_paths(path).get(path)
        outcomes.append(Outcome(f.client_name, known.document_id if known else None,
                                "duplicate" if path in duplicates else "added"))
    return outcomes


def discard(files: Iterable[Received]) -> None:
    for f in files:
        f.stored.unlink(missing_ok=True)


def remove_originals(kb: KnowledgeBase, paths: Iterable[str]) -> None:
    """Delete the stored originals of uploaded files among ``paths`` (never anything else)."""
    folder = uploads_dir(kb).resolve()
    for path in paths:
        candidate = Path(path)
        if candidate.parent.resolve() == folder:
            candidate.unlink(missing_ok=True)
