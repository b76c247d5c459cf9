"""Step 1 of the pipeline: which files under the roots a run reads, and what each root says.

Kept apart from the pipeline because every engine (local or Ray) and every worker
process needs these small, picklable descriptions of a file and its root.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.metadata import MANIFEST_NAME, is_metadata_file, read_yaml
from ingest.parsers import SUPPORTED_SUFFIXES
from search.records import FileFailure


@dataclass(frozen=True)
class Root:
    """A folder (or file) a run reads, with what its source says about its files.

    ``defaults`` is metadata the source implies, weighed like a manifest at the
    root; ``default_language`` is used only where detection finds none; ``file_name`` is
    the name a single file had before it was stored under another (an upload), from which
    its title and date are taken when the file itself says none. ``identity`` scopes what
    counts as the same content: files under roots of different identities never share a
    document (an upload's content is its office's own, whatever another office holds).
    """

    path: Path
    source: str | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    default_language: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    file_name: str | None = None
    identity: str | None = None


def shown_name(root: Root) -> str:
    """What readers see a root as: an upload's original name, a source's name, a folder's
    own name; never the server's path to it."""
    if root.file_name:
        return f"{root.source or 'uploads'}/{root.file_name}"
    return root.source or root.path.resolve().name or "files"


@dataclass(frozen=True)
class FoundFile:
    path: Path
    root: Root

    @property
    def source_path(self) -> str:
        return str(self.path.resolve())


# --- step 1: discover files ----------------------------------------------------------
def _matches(relative: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatch(relative, pattern) for pattern in patterns)


def _excluded(path: Path, root: Root) -> bool:
    """Hidden or ``_``-prefixed names, the root's globs, and manifests' ``exclude:`` globs."""
    relative = path.relative_to(root.path)
    if any(part.startswith((".", "_")) for part in relative.parts):
        return True
    if root.include and not _matches(relative.as_posix(), root.include):
        return True
    if _matches(relative.as_posix(), root.exclude):
        return True
    for folder in [root.path, *[root.path / p for p in relative.parents if str(p) != "."]]:
        patterns = read_yaml(folder / MANIFEST_NAME).get("exclude") or []
        if _matches(path.relative_to(folder).as_posix(), patterns):
            return True
    return False


def discover(roots: Iterable[Root]) -> tuple[list[FoundFile], list[FileFailure]]:
    """Files to ingest under ``roots``; a root that cannot be read is a failure."""
    found: list[FoundFile] = []
    failures: list[FileFailure] = []
    for root in roots:
        if root.path.is_file():
            found.append(FoundFile(root.path, root))
        elif root.path.is_dir():
            found.extend(
                FoundFile(p, root) for p in sorted(root.path.rglob("*"))
                if p.is_file() and not is_metadata_file(p)
                and p.suffix.lower() in SUPPORTED_SUFFIXES and not _excluded(p, root)
            )
        else:
            failures.append(FileFailure.of(str(root.path), "no such file or folder"))
    unique = {f.source_path: f for f in reversed(found)}  # one file named two ways
    return list(reversed(unique.values())), failures
