"""The ingest pipeline: files -> parsed documents -> chunks -> vectors -> knowledge base.

Read top to bottom a run is a list of steps: discover the files (``ingest.discovery``);
sort them into unchanged, moved or copied (a link to stored content), and new content;
hand the new content to an engine, which parses, chunks and embeds it
(``ingest.preparing``, ``ingest.engines``: here or on a Ray cluster); write each embedded
file and publish as it goes; forget what vanished. One bad file is recorded in the report
with its path and reason and never stops the run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

from ingest.discovery import FoundFile, Root, discover, shown_name
from ingest.engines import engine_for
from ingest.engines.base import EmbeddedFile
from ingest.failures import failure_of, is_fatal
from ingest.metadata import content_hash
from ingest.preparing import Failed, Prepared, PrepareJob, PrepareSpec
from search.documents import PathState, document_id_by_hash, touch_path
from search.embedding_cache import prune_vectors
from search.knowledge_base import KnowledgeBase
from search.path_names import remember
from search.records import FileFailure, FileStat, Move, RunReport
from search.runs import finish_run, run_progress, start_run
from search.writer import Writer

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 1.0  # how often a run records its progress in the database

T = TypeVar("T")
Progress = Callable[[Iterable[Any]], Iterable[Any]]
"""Wraps the run's stream of finished files (e.g. ``tqdm``); it has a length."""


class Ingestor:
    """Runs the steps over roots and publishes to the knowledge base, incrementally.

    A file is unchanged when its size and modification time match what the
    database recorded, or else when its content hash does. New content goes to
    the engine (``engine``, default ``settings.ingest_engine``), which prepares and
    embeds it through the embedding cache; content already stored under another
    path is linked, never embedded again (a moved file keeps its vectors). Paths
    under a root that are gone from disk leave every index at the end of the run.
    """

    def __init__(self, kb: KnowledgeBase, overrides: dict[str, Any] | None = None,
                 force: bool = False, engine: str | None = None,
                 ray_address: str | None = None) -> None:
        self.kb = kb
        self.force = force
        self.spec = PrepareSpec.from_settings(kb.settings, overrides)
        self.preparer = self.spec.preparer(kb.encoder.count_tokens)
        self.engine = engine_for(kb, self.spec, engine, ray_address)
        self.commit_every = kb.settings.commit_every_chunks

    def run(self, roots: Iterable[Root | Path], *, kind: str = "ingest", trigger: str = "cli",
            progress: Progress = lambda x: x,
            on_start: Callable[[int], None] = lambda run_id: None,
            ahead: Ahead | None = None, wait_s: float = 0.0) -> RunReport:
        """One run under the write lock, recorded with its report in the database.

        ``ahead`` holds files already prepared and embedded (``embed_ahead``), so that the
        lock is held only to write and publish them. Raises ``WriterBusyError`` when another
        run holds the lock for longer than ``wait_s``.
        """
        roots = [r if isinstance(r, Root) else Root(Path(r)) for r in roots]
        with self.kb.writer(wait_s) as writer:
            with self.kb.database.connect() as db:
                run_id = start_run(db, kind, trigger)
            on_start(run_id)
            try:
                report = _Run(self, writer, run_id, ahead or {}).run(roots, progress)
            except BaseException as exc:
                with self.kb.database.connect() as db:
                    finish_run(db, run_id, None, f"{type(exc).__name__}: {exc}")
                raise
            with self.kb.database.connect() as db:
                finish_run(db, run_id, report, None)
        log.info("run %d (%s, %s): %s", run_id, kind, trigger, report.summary())
        return report

    def embed_ahead(self, roots: Iterable[Root]) -> Ahead:
        """Prepare and embed the new content under ``roots`` without the write lock (what
        takes time: parsing, OCR, the encoder), for a ``run`` that then only writes it.
        Content the knowledge base already holds is left to the run."""
        files, _ = discover(roots)
        jobs: dict[str, PrepareJob] = {}
        for file in files:
            try:
                digest = content_hash(file.path, file.root.identity)
                with self.kb.database.connect() as db:
                    if document_id_by_hash(db, digest) is not None:
                        continue
                stat = file.path.stat()
            except OSError:  # the run reports it
                continue
            jobs.setdefault(digest, PrepareJob(file, digest, FileStat(
                size=stat.st_size, mtime_ns=stat.st_mtime_ns), is_update=False))
        return {outcome.job.digest if isinstance(outcome, Failed)
                else outcome.prepared.job.digest: outcome
                for outcome in self.engine.run(list(jobs.values()))}


Ahead = dict[str, "EmbeddedFile | Failed"]
"""Content hash -> its file prepared and embedded (or failed) before a run took the lock."""


def _for_job(outcome: EmbeddedFile | Failed, job: PrepareJob) -> EmbeddedFile | Failed:
    """An outcome worked out ahead, as this run's job (its path, stat, update or not)."""
    if isinstance(outcome, Failed):
        return Failed(job, outcome.failure.model_copy(update={"path": str(job.file.path)}))
    prepared = outcome.prepared
    return EmbeddedFile(Prepared(job, prepared.meta, prepared.chunks, prepared.ocr),
                        outcome.vectors, outcome.embedded)


class _Sized(Generic[T]):
    """An iterator with a known length, so that a progress bar can show a total."""

    def __init__(self, items: Iterator[T], length: int) -> None:
        self._items, self._length = items, length

    def __iter__(self) -> Iterator[T]:
        return self._items

    def __len__(self) -> int:
        return self._length


class _Run:
    """The state of one run: what is on disk, what the database knew, what changed."""

    def __init__(self, ingestor: Ingestor, writer: Writer, run_id: int, ahead: Ahead) -> None:
        self.ingestor = ingestor
        self.ahead = ahead
        self.kb = ingestor.kb
        self.writer = writer
        self.run_id = run_id
        self.report = RunReport()
        self.jobs: dict[str, PrepareJob] = {}  # content hash -> the file that prepares it
        self.waiting: list[tuple[FoundFile, str, FileStat, PathState | None]] = []
        self.failed_digests: dict[str, FileFailure] = {}  # content hash -> why it failed
        self.since_publish = 0
        self.known: dict[str, PathState] = {}
        self.vanished: dict[str, list[str]] = {}  # content hash -> paths gone from disk

    def run(self, roots: list[Root], progress: Progress) -> RunReport:
        started = time.perf_counter()
        files, self.report.failed = discover(roots)
        for root in roots:
            if root.path.exists():  # a missing root (an unmounted share) deletes nothing
                self.known.update(self.kb.known_paths(str(root.path.resolve())))
                with self.kb.database.connect() as db:
                    remember(db, str(root.path.resolve()), shown_name(root))
        on_disk = {f.source_path for f in files}
        for path, state in self.known.items():
            if path not in on_disk:
                self.vanished.setdefault(state.content_hash, []).append(path)
        last_progress = 0.0
        for done, _ in enumerate(progress(_Sized(self._finished(files), len(files))), 1):
            if time.monotonic() - last_progress > PROGRESS_EVERY_S:
                with self.kb.database.connect() as db:
                    run_progress(db, self.run_id, done, len(files))
                last_progress = time.monotonic()
        for file, digest, stat, state in self.waiting:
            self._link_waiting(file, digest, stat, state)
        for paths in self.vanished.values():
            for path in paths:
                self.writer.delete(path)
                self.report.deleted.append(path)
        self.writer.publish()
        with self.kb.database.connect() as db:
            prune_vectors(db)
            run_progress(db, self.run_id, len(files), len(files))
        self.report.seconds = round(time.perf_counter() - started, 3)
        return self.report

    def _finished(self, files: list[FoundFile]) -> Iterator[FoundFile]:
        """Each file once it is settled: sorted first (quick), then new content as the
        engine embeds it; a copy of content in this run waits for its original."""
        for file in files:
            if not self._sort(file):
                yield file
        for outcome in self._outcomes(list(self.jobs.values())):
            if isinstance(outcome, Failed):
                self.failed_digests[outcome.job.digest] = outcome.failure
                self._fail(outcome.failure)
                yield outcome.job.file
            else:
                self._put(outcome)
                yield outcome.prepared.job.file

    def _outcomes(self, jobs: list[PrepareJob]) -> Iterator[EmbeddedFile | Failed]:
        """Each job's outcome: worked out ahead where it was, else by the engine now."""
        later = [job for job in jobs if job.digest not in self.ahead]
        for job in jobs:
            if job.digest in self.ahead:
                yield _for_job(self.ahead[job.digest], job)
        yield from self.ingestor.engine.run(later)

    def _fail(self, failure: FileFailure) -> None:
        log.warning("skipped %s: %s", failure.path, failure.reason)
        self.report.failed.append(failure)

    def _sort(self, file: FoundFile) -> bool:
        """Settle a file at once (unchanged, moved, a copy, unreadable) or make it a job
        for the engine; True for a job."""
        try:
            return self._sort_or_raise(file)
        except Exception as exc:  # one file's trouble is reported, and the run goes on
            if is_fatal(exc):
                raise
            self._fail(failure_of(file.path, exc))
        return False

    def _sort_or_raise(self, file: FoundFile) -> bool:
        force = self.ingestor.force
        source = file.source_path
        state = self.known.get(source)
        st = file.path.stat()
        stat = FileStat(size=st.st_size, mtime_ns=st.st_mtime_ns)
        if state and not force and (state.size, state.mtime_ns) == (stat.size, stat.mtime_ns):
            self.report.unchanged += 1
            return False
        digest = content_hash(file.path, file.root.identity)
        if state and not force and state.content_hash == digest:
            with self.kb.database.connect() as db:
                touch_path(db, source, stat)
            self.report.unchanged += 1
            return False
        if digest in self.jobs:
            self.waiting.append((file, digest, stat, state))
            return False
        if not force and self._stored(digest):
            self._link(file, digest, stat, state)
            return False
        self.jobs[digest] = PrepareJob(file, digest, stat, state is not None)
        return True

    def _stored(self, digest: str) -> bool:
        with self.kb.database.connect() as db:
            return document_id_by_hash(db, digest) is not None

    def _link_waiting(self, file: FoundFile, digest: str, stat: FileStat,
                      state: PathState | None) -> None:
        """A copy of content this run prepared: linked, or failed as its original did."""
        if digest in self.failed_digests:
            self._fail(self.failed_digests[digest].model_copy(update={"path": str(file.path)}))
            return
        try:
            self._link(file, digest, stat, state)
        except Exception as exc:  # as in _sort: the file fails, the run goes on
            if is_fatal(exc):
                raise
            self._fail(failure_of(file.path, exc))

    def _link(self, file: FoundFile, digest: str, stat: FileStat,
              state: PathState | None) -> None:
        """Point the path at content already stored: a move, a copy, or an edit back."""
        gone = self.vanished.get(digest)
        moved_from = gone.pop() if gone else None
        meta = self.ingestor.preparer.prepare(file, digest)[0] if moved_from else None
        self.writer.link(file.source_path, digest, stat, file.root.source, meta)
        if moved_from:
            self.writer.delete(moved_from)  # applied after the link: the content stays
            self.report.moved.append(Move(from_path=moved_from, to_path=file.source_path))
        elif state:
            self.report.updated.append(file.source_path)
        else:
            self.report.duplicates.append(file.source_path)

    def _put(self, embedded: EmbeddedFile) -> None:
        """Write one embedded file; publish once enough new chunks are waiting."""
        prepared = embedded.prepared
        job = prepared.job
        self.writer.put(prepared.meta, prepared.chunks, embedded.vectors, job.stat,
                        job.file.root.source, replace=self.ingestor.force)
        (self.report.updated if job.is_update else self.report.added).append(
            prepared.meta.source_path)
        self.report.chunks_embedded += embedded.embedded
        self.report.chunks_indexed += len(prepared.chunks)
        self.report.ocr_images += prepared.ocr.images
        self.report.ocr_seconds = round(self.report.ocr_seconds + prepared.ocr.seconds, 3)
        self.since_publish += len(prepared.chunks)
        if self.since_publish >= self.ingestor.commit_every:
            self.writer.publish()
            self.since_publish = 0
