"""The local engine: this process embeds; files are prepared here or in worker processes.

On one machine the encoder is the wall, so everything else hides behind it:

* parsing, metadata, language detection and chunking run in this process between
  encoder calls (the default), or, with ``ingest_workers``, in a pool of worker
  processes a bounded window of files ahead of the encoder. Preparing costs a few
  milliseconds a file against a quarter of a second to embed it, so on 2 cores the
  pool only took a core from the encoder (ingest at 0.77x the raw encode speed with
  one worker, 1.05x without); it pays for parse-heavy files on cores torch leaves;
* chunks are embedded in groups as large as the pace allows (one batch at least, 16
  at most): sentence-transformers sorts each call's texts by token length, so a
  large group pads little, and the encoder starts as soon as it has one batch;
* vectors come from the embedding cache when a text was embedded before, and the
  model is loaded once, in this process.

Measured in ``bench/ingest_throughput.py`` (docs/performance.md).
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import islice

from ingest import preparing
from ingest.engines.base import EmbeddedFile, IngestEngine
from ingest.failures import failure_of, is_fatal
from ingest.preparing import Failed, Prepared, PrepareJob, PrepareSpec
from search.embedding import Encoder
from search.embedding_cache import EmbeddingCache, text_hash

POOL_MIN_JOBS = 16  # fewer files than this: a pool's start-up costs more than it hides
FILES_AHEAD_PER_WORKER = 128  # enough prepared files to fill a whole embedding group


class _InProcess:
    """Jobs prepared here, one at a time, when asked: always ready, never ahead."""

    def __init__(self, preparer: preparing.Preparer, jobs: list[PrepareJob]) -> None:
        self._preparer = preparer
        self._jobs = deque(jobs)

    def __bool__(self) -> bool:
        return bool(self._jobs)

    def ready(self) -> bool:
        return True

    def take(self) -> Prepared | Failed:
        return self._preparer.run(self._jobs.popleft())

    def close(self) -> None:
        self._jobs.clear()


class _Ahead:
    """Jobs prepared by a pool of worker processes, a bounded window ahead of the encoder,
    handed back in the jobs' order."""

    def __init__(self, spec: PrepareSpec, workers: int, jobs: list[PrepareJob]) -> None:
        # forkserver: a worker never inherits the encoder's threads; it forks from a server
        # that has imported the preparing code once, so workers start quickly
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([preparing.__name__])
        self._pool = ProcessPoolExecutor(workers, context, initializer=preparing.start_worker,
                                         initargs=(spec,))
        self._remaining = iter(jobs)
        self._window: deque[Future[Prepared | Failed]] = deque()
        self._submit(workers * FILES_AHEAD_PER_WORKER)

    def _submit(self, count: int) -> None:
        for job in islice(self._remaining, count):
            self._window.append(self._pool.submit(preparing.prepare_in_worker, job))

    def __bool__(self) -> bool:
        return bool(self._window)

    def ready(self) -> bool:
        """Whether the next outcome is there without waiting."""
        return self._window[0].done()

    def take(self) -> Prepared | Failed:
        outcome = self._window.popleft().result()
        self._submit(1)
        return outcome

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)


class LocalEngine(IngestEngine):
    """Prepares in ``workers`` processes (0: in this one) and embeds in this process.

    The encoder never waits for a full group: once it holds one batch of chunks
    (``min_group``) and the next file is not prepared yet, it embeds what it has; while it
    embeds, prepared files pile up, so the next group is larger, up to ``group_chunks``.
    """

    def __init__(self, encoder: Encoder, cache: EmbeddingCache, spec: PrepareSpec,
                 workers: int, min_group: int, group_chunks: int) -> None:
        super().__init__(encoder, cache)
        self.spec = spec
        self.workers = workers
        self.min_group = min_group
        self.group_chunks = group_chunks

    def run(self, jobs: list[PrepareJob]) -> Iterator[EmbeddedFile | Failed]:
        prepared = self._preparing(jobs)
        try:
            group: list[Prepared] = []
            while prepared:
                outcome = prepared.take()
                if isinstance(outcome, Failed):
                    yield outcome
                    continue
                group.append(outcome)
                size = sum(len(p.chunks) for p in group)
                if size >= self.group_chunks or (
                        size >= self.min_group and prepared and not prepared.ready()):
                    yield from self._embed(group)
                    group = []
            yield from self._embed(group)
        finally:
            prepared.close()

    def _preparing(self, jobs: list[PrepareJob]) -> _InProcess | _Ahead:
        """The pool when it pays off, else this process."""
        if self.workers == 0 or len(jobs) < POOL_MIN_JOBS:
            return _InProcess(self.spec.preparer(self.encoder.count_tokens), jobs)
        return _Ahead(self.spec, self.workers, jobs)

    def _embed(self, group: list[Prepared]) -> Iterator[EmbeddedFile | Failed]:
        """Vectors for a group's chunks: the cache's, and the encoder's for the rest. Where
        the encoder fails on a group, its files are embedded one by one, so that only the
        file it fails on fails."""
        if not group:
            return
        texts = {text_hash(c.text): c.text for p in group for c in p.chunks}
        try:
            vectors = self.cache.get(list(texts))
            missing = {h: t for h, t in texts.items() if h not in vectors}
            fresh = dict(zip(missing, self.encoder.encode_documents(list(missing.values())),
                             strict=True))
        except Exception as exc:
            if is_fatal(exc):
                raise
            if len(group) == 1:
                yield Failed(group[0].job, failure_of(group[0].job.file.path, exc))
                return
            for prepared in group:
                yield from self._embed([prepared])
            return
        self.cache.save(fresh)
        yield from self.hand_out(group, {**vectors, **fresh}, set(fresh))
