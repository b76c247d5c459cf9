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
from ingest.parsers import DEFAULT_LIMITS, SUPPORTED_SUFFIXES, ParseLimits, parse_file
from search.knowledge_base import KnowledgeBase, Writer
from search.language import LanguageDetector
from search.records import DocumentMeta, FileFailure, FileStat, Move, NewChunk, RunReport
from search.store import PathState, text_hash

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 1.0  # how often a run records its progress in the database


@dataclass(frozen=True)
class Root:
    """A folder (or file) a run reads, with what its source says about its files.

    ``defaults`` is metadata the source implies, weighed like a manifest at the
    root; ``default_language`` is used only where detection finds none.
    """

    path: Path
    source: str | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    default_language: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class FoundFile:
    path: Path
    root: Root

    @property
    def source_path(self) -> str:
        return str(self.path.resolve())


@dataclass
class _Prepared:
    """A file parsed, described and chunked, waiting for its vectors."""

    file: FoundFile
    meta: DocumentMeta
    chunks: list[NewChunk]
    stat: FileStat
    is_update: bool


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
            failures.append(FileFailure(path=str(root.path), reason="no such file or folder"))
    unique = {f.source_path: f for f in reversed(found)}  # one file named two ways
    return list(reversed(unique.values())), failures


# --- steps 2-4: parse, describe, chunk ----------------------------------------------
class Preparer:
    """Parses one file, within ``limits``, and turns it into metadata and chunks with
    languages."""

    def __init__(self, chunker: Chunker, languages: LanguageDetector,
                 overrides: dict[str, Any], office_regions: dict[str, str],
                 limits: ParseLimits = DEFAULT_LIMITS) -> None:
        self.chunker = chunker
        self.languages = languages
        self.overrides = overrides
        self.office_regions = office_regions
        self.limits = limits

    def describe(self, file: FoundFile, digest: str) -> tuple[ParsedDocument, DocumentMeta]:
        parsed = parse_file(file.path, self.limits)
        language = self.languages.detect(_language_sample(parsed)) or file.root.default_language
        meta = resolve_metadata(file.path, parsed, language, self.overrides, self.office_regions,
                                digest, file.root.defaults)
        return parsed, meta

    def prepare(self, file: FoundFile, digest: str) -> tuple[DocumentMeta, list[NewChunk]]:
        parsed, meta = self.describe(file, digest)
        chunks = self.chunker.chunk(parsed, meta.language)
        if not chunks:
            raise ParseError("no text")
        for chunk in chunks:
            chunk.language = self.languages.detect(chunk.text) or meta.language
        return meta, chunks


def _language_sample(parsed: ParsedDocument, chars: int = 4000) -> str:
    """Text from the whole document, not only its first page, for detection."""
    units = parsed.units
    step = max(1, len(units) // 8)
    return "\n".join(u.text for u in units[::step])[:chars]


# --- steps 5-6: embed and write ------------------------------------------------------
class Ingestor:
    """Runs the steps over roots and publishes to the knowledge base, incrementally.

    A file is unchanged when its size and modification time match what the
    database recorded, or else when its content hash does. New content is
    parsed, chunked and embedded, through the embedding cache; content already
    stored under another path is linked, never embedded again (a moved file
    keeps its vectors). Paths under a root that are gone from disk leave every
    index at the end of the run.
    """

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
            ParseLimits(settings.max_unzipped_bytes, settings.max_pdf_pages),
        )
        self.embed_batch = settings.embed_batch_size * 4
        self.commit_every = settings.commit_every_chunks

    def run(self, roots: Iterable[Root | Path], *, kind: str = "ingest", trigger: str = "cli",
            progress: Callable[[Iterable[FoundFile]], Iterable[FoundFile]] = lambda x: x,
            on_start: Callable[[int], None] = lambda run_id: None) -> RunReport:
        """One run under the write lock, recorded with its report in the database.

        Raises ``WriterBusyError`` at once when another run holds the lock.
        """
        roots = [r if isinstance(r, Root) else Root(Path(r)) for r in roots]
        with self.kb.writer() as writer:
            run_id = self.kb.store.start_run(kind, trigger)
            on_start(run_id)
            try:
                report = _Run(self, writer, run_id).run(roots, progress)
            except BaseException as exc:
                self.kb.store.finish_run(run_id, None, f"{type(exc).__name__}: {exc}")
                raise
            self.kb.store.finish_run(run_id, report, None)
        log.info("run %d (%s, %s): %s", run_id, kind, trigger, report.summary())
        return report


class _Run:
    """The state of one run: what is on disk, what the database knew, what changed."""

    def __init__(self, ingestor: Ingestor, writer: Writer, run_id: int) -> None:
        self.ingestor = ingestor
        self.kb = ingestor.kb
        self.writer = writer
        self.run_id = run_id
        self.report = RunReport()
        self.pending: list[_Prepared] = []
        self.pending_digests: set[str] = set()
        self.since_publish = 0
        self.known: dict[str, PathState] = {}
        self.vanished: dict[str, list[str]] = {}  # content hash -> paths gone from disk

    def run(self, roots: list[Root],
            progress: Callable[[Iterable[FoundFile]], Iterable[FoundFile]]) -> RunReport:
        started = time.perf_counter()
        files, self.report.failed = discover(roots)
        for root in roots:
            if root.path.exists():  # a missing root (an unmounted share) deletes nothing
                self.known.update(self.kb.store.known_paths(str(root.path.resolve())))
        on_disk = {f.source_path for f in files}
        for path, state in self.known.items():
            if path not in on_disk:
                self.vanished.setdefault(state.content_hash, []).append(path)
        last_progress = 0.0
        for done, file in enumerate(progress(files), 1):
            self._visit(file)
            if time.monotonic() - last_progress > PROGRESS_EVERY_S:
                self.kb.store.run_progress(self.run_id, done, len(files))
                last_progress = time.monotonic()
        for paths in self.vanished.values():
            for path in paths:
                self.writer.delete(path)
                self.report.deleted.append(path)
        self._publish()
        with self.kb.store.connect() as db:
            self.kb.store.prune_vectors(db)
        self.kb.store.run_progress(self.run_id, len(files), len(files))
        self.report.seconds = round(time.perf_counter() - started, 3)
        return self.report

    def _visit(self, file: FoundFile) -> None:
        try:
            self._classify(file)
        except (ParseError, MetadataError) as exc:
            self._fail(file, exc.reason if isinstance(exc, ParseError) else str(exc))
        except OSError as exc:
            self._fail(file, f"cannot read: {exc.strerror or exc}")

    def _fail(self, file: FoundFile, reason: str) -> None:
        log.warning("skipped %s: %s", file.path, reason)
        self.report.failed.append(FileFailure(path=str(file.path), reason=reason))

    def _classify(self, file: FoundFile) -> None:
        """Unchanged, moved, duplicate, or new content to prepare."""
        force, store = self.ingestor.force, self.kb.store
        source = file.source_path
        state = self.known.get(source)
        st = file.path.stat()
        stat = FileStat(size=st.st_size, mtime_ns=st.st_mtime_ns)
        if state and not force and (state.size, state.mtime_ns) == (stat.size, stat.mtime_ns):
            self.report.unchanged += 1
            return
        digest = content_hash(file.path)
        if state and not force and state.content_hash == digest:
            store.touch_path(source, stat)
            self.report.unchanged += 1
            return
        if not force and (digest in self.pending_digests or self._stored(digest)):
            self._link(file, digest, stat, state)
            return
        meta, chunks = self.ingestor.preparer.prepare(file, digest)
        self.pending.append(_Prepared(file, meta, chunks, stat, is_update=state is not None))
        self.pending_digests.add(digest)
        if sum(len(p.chunks) for p in self.pending) >= self.ingestor.embed_batch:
            self._embed_and_put()
        if self.since_publish >= self.ingestor.commit_every:
            self._publish()

    def _stored(self, digest: str) -> bool:
        with self.kb.store.connect() as db:
            return self.kb.store.document_id_by_hash(db, digest) is not None

    def _link(self, file: FoundFile, digest: str, stat: FileStat,
              state: PathState | None) -> None:
        """Point the path at content already stored: a move, a copy, or an edit back."""
        gone = self.vanished.get(digest)
        moved_from = gone.pop() if gone else None
        meta = self.ingestor.preparer.describe(file, digest)[1] if moved_from else None
        self.writer.link(file.source_path, digest, stat, file.root.source, meta)
        if moved_from:
            self.writer.delete(moved_from)  # applied after the link: the content stays
            self.report.moved.append(Move(from_path=moved_from, to_path=file.source_path))
        elif state:
            self.report.updated.append(file.source_path)
        else:
            self.report.duplicates.append(file.source_path)

    def _embed_and_put(self) -> None:
        """Vectors for the pending chunks, from the cache where it has them."""
        if not self.pending:
            return
        store, encoder = self.kb.store, self.kb.encoder
        chunks = [c for p in self.pending for c in p.chunks]
        hashes = [text_hash(c.text) for c in chunks]
        vectors = store.cached_vectors(encoder.model_id, hashes)
        texts = {h: c.text for c, h in zip(chunks, hashes, strict=True) if h not in vectors}
        if texts:
            fresh = encoder.encode_documents(list(texts.values()))
            with store.connect() as db:  # kept even if this run dies before publishing
                store.save_vectors(db, encoder.model_id, list(texts), fresh)
            vectors.update(zip(texts, fresh, strict=True))
        start = 0
        for p in self.pending:
            end = start + len(p.chunks)
            self.writer.put(p.meta, p.chunks, np.stack([vectors[h] for h in hashes[start:end]]),
                            p.stat, p.file.root.source, replace=self.ingestor.force)
            (self.report.updated if p.is_update else self.report.added).append(p.meta.source_path)
            start = end
        self.report.chunks_embedded += len(texts)
        self.report.chunks_indexed += len(hashes)
        self.since_publish += len(hashes)
        self.pending = []

    def _publish(self) -> None:
        """Embed what is pending, then publish: links may point at pending content."""
        self._embed_and_put()
        self.writer.publish()
        self.since_publish = 0
