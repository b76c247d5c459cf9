"""The local engine: worker processes prepare files while this process embeds them.

On one machine the encoder is the wall, so everything else hides behind it:

* parsing, metadata, language detection and chunking run in a pool of worker
  processes, a bounded window of files ahead of the encoder, at a lower CPU
  priority (``nice``) so that they take what the encoder's threads leave idle;
* chunks are embedded in large groups: sentence-transformers sorts each call's
  texts by length, so a large group pads little (batches by token length);
* vectors come from the embedding cache when a text was embedded before, and the
  model is loaded once, in this process.

Measured in ``bench/ingest_throughput.py`` (README "Performance").
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import islice

from ingest import preparing
from ingest.engines.base import EmbeddedFile, IngestEngine
from ingest.preparing import Failed, Prepared, PrepareJob, PrepareSpec
from search.knowledge_base import KnowledgeBase
from search.store import text_hash

POOL_MIN_JOBS = 16  # fewer files than this: a pool's start-up costs more than it hides
FILES_AHEAD_PER_WORKER = 8  # how far the pool may run ahead of the encoder
WORKER_NICENESS = 10  # parsing yields the CPU to the encoder's threads
MAX_DEFAULT_WORKERS = 4

def default_workers() -> int:
    """One preparing process per core the encoder's threads leave, at least one and at most
    ``MAX_DEFAULT_WORKERS``: preparing takes a small share of the encoder's CPU time, and
    each process holds its own language models (about 1 GB)."""
    return max(1, min(MAX_DEFAULT_WORKERS, (os.cpu_count() or 1) - 1))


class LocalEngine(IngestEngine):
    """Prepares in ``workers`` processes (0: in this one) and embeds groups of about
    ``group_chunks`` chunks in this process."""

    def __init__(self, kb: KnowledgeBase, spec: PrepareSpec, workers: int,
                 group_chunks: int) -> None:
        super().__init__(kb)
        self.spec = spec
        self.workers = workers
        self.group_chunks = group_chunks

    def run(self, jobs: list[PrepareJob]) -> Iterator[EmbeddedFile | Failed]:
        group: list[Prepared] = []
        for outcome in self._prepared(jobs):
            if isinstance(outcome, Failed):
                yield outcome
                continue
            group.append(outcome)
            if sum(len(p.chunks) for p in group) >= self.group_chunks:
                yield from self._embed(group)
                group = []
        yield from self._embed(group)

    def _prepared(self, jobs: list[PrepareJob]) -> Iterator[Prepared | Failed]:
        """Outcomes in the jobs' order, from the pool when it pays off."""
        if self.workers == 0 or len(jobs) < POOL_MIN_JOBS:
            preparer = self.spec.preparer(self.kb.encoder.count_tokens)
            yield from map(preparer.run, jobs)
            return
        # forkserver: a worker never inherits the encoder's threads; it forks from a server
        # that has imported the preparing code once, so workers start quickly
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([preparing.__name__])
        pool = ProcessPoolExecutor(self.workers, context, initializer=preparing.start_worker,
                                   initargs=(self.spec, WORKER_NICENESS))
        try:
            remaining = iter(jobs)
            ahead: deque[Future[Prepared | Failed]] = deque(
                pool.submit(preparing.prepare_in_worker, job)
                for job in islice(remaining, self.workers * FILES_AHEAD_PER_WORKER))
            while ahead:
                outcome = ahead.popleft().result()
                for job in islice(remaining, 1):
                    ahead.append(pool.submit(preparing.prepare_in_worker, job))
                yield outcome
        finally:
            pool.shutdown(cancel_futures=True)

    def _embed(self, group: list[Prepared]) -> Iterator[EmbeddedFile]:
        """Vectors for a group's chunks: the cache's, and the encoder's for the rest."""
        if not group:
            return
        texts = {text_hash(c.text): c.text for p in group for c in p.chunks}
        vectors = self.kb.store.cached_vectors(self.kb.encoder.model_id, list(texts))
        missing = {h: t for h, t in texts.items() if h not in vectors}
        fresh = dict(zip(missing, self.kb.encoder.encode_documents(list(missing.values())),
                         strict=True))
        self.save_vectors(fresh)
        yield from self.hand_out(group, {**vectors, **fresh}, set(fresh))
