"""The ingest pipeline: files -> parsed documents -> chunks -> vectors -> knowledge base.

Read top to bottom it is a list of steps, each a small function with typed
input and output (Haystack-style). One bad file is recorded in the report with
its path and reason and never stops the run.
"""

from __future__ import annotations

import fnmatch
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ingest.chunking import Chunker
from ingest.document import ParsedDocument, ParseError
from ingest.metadata import (
    MANIFEST_NAME,
    MetadataError,
    content_hash,
    is_metadata_file,
    read_yaml,
    resolve_metadata,
)
from ingest.parsers import SUPPORTED_SUFFIXES, parse_file
from search.knowledge_base import KnowledgeBase, Writer
from search.language import LanguageDetector
from search.records import DocumentMeta, NewChunk

log = logging.getLogger(__name__)


@dataclass
class FileFailure:
    path: str
    reason: str


@dataclass
class IngestReport:
    """What a run did, file by file; printed by the CLI, returned by the API."""

    indexed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[FileFailure] = field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.seconds if self.seconds else 0.0


@dataclass
class _Prepared:
    """A file parsed, described and chunked, waiting for its vectors."""

    path: Path
    meta: DocumentMeta
    chunks: list[NewChunk]


# --- step 1: discover files ----------------------------------------------------------
def _excluded(path: Path, root: Path) -> bool:
    """Hidden or ``_``-prefixed names, and ``exclude:`` globs of manifests up to ``root``."""
    relative = path.relative_to(root)
    if any(part.startswith((".", "_")) for part in relative.parts):
        return True
    for folder in [root, *[root / p for p in relative.parents if str(p) != "."]]:
        patterns = read_yaml(folder / MANIFEST_NAME).get("exclude") or []
        rel = path.relative_to(folder).as_posix()
        if any(fnmatch.fnmatch(rel, pattern) for pattern in patterns):
            return True
    return False


def discover(paths: Iterable[Path]) -> tuple[list[Path], list[FileFailure]]:
    """Files to ingest under ``paths``; an explicit path that cannot be read is a failure."""
    found: list[Path] = []
    failures: list[FileFailure] = []
    for root in paths:
        if root.is_file():
            found.append(root)
        elif root.is_dir():
            found.extend(
                p for p in sorted(root.rglob("*"))
                if p.is_file() and not is_metadata_file(p)
                and p.suffix.lower() in SUPPORTED_SUFFIXES and not _excluded(p, root)
            )
        else:
            failures.append(FileFailure(str(root), "no such file or folder"))
    unique = {path.resolve(): path for path in reversed(found)}  # one file named two ways
    return list(reversed(unique.values())), failures


# --- steps 2-4: parse, describe, chunk ----------------------------------------------
class Preparer:
    """Parses one file and turns it into metadata and chunks with languages."""

    def __init__(self, chunker: Chunker, languages: LanguageDetector,
                 overrides: dict[str, Any], office_regions: dict[str, str]) -> None:
        self.chunker = chunker
        self.languages = languages
        self.overrides = overrides
        self.office_regions = office_regions

    def prepare(self, path: Path, digest: str | None = None) -> _Prepared:
        parsed: ParsedDocument = parse_file(path)
        language = self.languages.detect(_language_sample(parsed))
        meta = resolve_metadata(path, parsed, language, self.overrides, self.office_regions,
                                digest)
        chunks = self.chunker.chunk(parsed, meta.language)
        if not chunks:
            raise ParseError("no text")
        for chunk in chunks:
            chunk.language = self.languages.detect(chunk.text) or meta.language
        return _Prepared(path, meta, chunks)


def _language_sample(parsed: ParsedDocument, chars: int = 4000) -> str:
    """Text from the whole document, not only its first page, for detection."""
    units = parsed.units
    step = max(1, len(units) // 8)
    return "\n".join(u.text for u in units[::step])[:chars]


# --- steps 5-6: embed and write ------------------------------------------------------
class Ingestor:
    """Runs the steps over a list of paths and publishes to the knowledge base."""

    def __init__(self, kb: KnowledgeBase, overrides: dict[str, Any] | None = None,
                 force: bool = False) -> None:
        settings = kb.settings
        self.kb = kb
        self.force = force
        self.preparer = Preparer(
            Chunker(kb.encoder.count_tokens, settings.chunk_tokens, settings.chunk_overlap_tokens),
            LanguageDetector(settings.languages),
            {k: v for k, v in (overrides or {}).items() if v},
            settings.office_regions,
        )
        self.embed_batch = settings.embed_batch_size * 4
        self.commit_every = settings.commit_every_chunks

    def run(self, paths: Iterable[Path],
            progress: Callable[[Iterable[Path]], Iterable[Path]] = lambda x: x) -> IngestReport:
        started = time.perf_counter()
        files, failures = discover(paths)
        report = IngestReport(failed=failures)
        pending: list[_Prepared] = []
        with self.kb.writer() as writer:
            since_publish = 0
            for path in progress(files):
                prepared = self._prepare(path, report)
                if prepared is None:
                    continue
                pending.append(prepared)
                if sum(len(p.chunks) for p in pending) >= self.embed_batch:
                    since_publish += self._embed_and_put(pending, writer, report)
                    pending = []
                if since_publish >= self.commit_every:
                    writer.publish()
                    since_publish = 0
            self._embed_and_put(pending, writer, report)
        report.seconds = time.perf_counter() - started
        return report

    def _prepare(self, path: Path, report: IngestReport) -> _Prepared | None:
        source = str(path.resolve())
        try:
            digest = content_hash(path)
            if not self.force and self.kb.store.content_hash(source) == digest:
                report.unchanged.append(str(path))
                return None
            return self.preparer.prepare(path, digest)
        except (ParseError, MetadataError) as exc:
            reason = exc.reason if isinstance(exc, ParseError) else str(exc)
        except OSError as exc:
            reason = f"cannot read: {exc.strerror or exc}"
        log.warning("skipped %s: %s", path, reason)
        report.failed.append(FileFailure(str(path), reason))
        return None

    def _embed_and_put(self, pending: list[_Prepared], writer: Writer,
                       report: IngestReport) -> int:
        texts = [c.text for p in pending for c in p.chunks]
        vectors = self.kb.encoder.encode_documents(texts)
        offsets = np.cumsum([0, *(len(p.chunks) for p in pending)])
        for p, start, end in zip(pending, offsets[:-1], offsets[1:], strict=True):
            writer.put(p.meta, p.chunks, vectors[start:end])
            report.indexed.append(str(p.path))
        report.chunks += len(texts)
        return len(texts)
