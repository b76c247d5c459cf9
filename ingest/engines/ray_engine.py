"""The Ray engine: parse, chunk and embed on a Ray cluster with Ray Data.

``bridge ingest --engine ray [--ray-address ADDR]`` runs the same run as the local
engine (which files changed, links, deletes and publishing stay with the one
writer, in this process) but hands the expensive middle to Ray Data:

1. a dataset of jobs, one row per file with new content;
2. ``map`` through an actor pool of preparers (parse, describe, chunk: ``ingest.preparing``);
3. ``map_batches`` through an actor pool of encoders, one model per actor, on a GPU
   each where the cluster has GPUs;
4. rows come back in the jobs' order and are written through the knowledge base,
   which publishes the same kind of generation as a local run.

Without an address a local Ray instance is started for the run and stopped after
it. On a real cluster every node needs this package installed (the same version)
and must see the ingested folders at the same paths (a shared mount). Vectors are
embedded afresh on the cluster (the embedding cache lives in this process's
database) and then saved in the cache, so a later local run reuses them.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import numpy as np

from ingest.engines.base import EmbeddedFile, IngestEngine
from ingest.preparing import Failed, Prepared, PrepareJob, PrepareSpec
from search.embedding import Encoder, load_encoder
from search.embedding_cache import EmbeddingCache, text_hash
from search.settings import Settings

log = logging.getLogger(__name__)

FILES_PER_ENCODER_BATCH = 16  # files (not chunks) per call of an encoder actor


class _PrepareActor:
    """One preparer per actor: its tokenizer and language detector load once."""

    def __init__(self, spec: PrepareSpec) -> None:
        self.preparer = spec.preparer()

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        outcome = self.preparer.run(pickle.loads(row["job"]))
        texts = [c.text for c in outcome.chunks] if isinstance(outcome, Prepared) else []
        return {"outcome": pickle.dumps(outcome), "texts": texts}


class _EncodeActor:
    """One model per actor; refuses to start when it would not embed like the writer."""

    def __init__(self, settings: Settings, model_id: str) -> None:
        import ray

        device = "cuda" if ray.get_gpu_ids() else "cpu"  # an actor given a GPU uses it
        self.encoder = load_encoder(settings.model, settings.cache_dir,
                                    settings.embed_batch_size, settings.encoder_precision, device)
        if self.encoder.model_id != model_id:
            raise RuntimeError(f"a Ray worker loaded {self.encoder.model_id!r}, "
                               f"but the knowledge base holds {model_id!r} vectors")

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        counts = [len(texts) for texts in batch["texts"]]
        vectors = self.encoder.encode_documents([t for texts in batch["texts"] for t in texts])
        bounds = np.cumsum([0, *counts])
        batch["vectors"] = np.array([vectors[a:b].tobytes() for a, b in pairwise(bounds)],
                                    dtype=object)
        return batch


class RayEngine(IngestEngine):
    """Prepares and embeds on the Ray cluster at ``address`` (None: a local instance)."""

    def __init__(self, encoder: Encoder, cache: EmbeddingCache, spec: PrepareSpec,
                 settings: Settings, address: str | None) -> None:
        super().__init__(encoder, cache)
        self.spec = spec
        self.settings = settings
        self.address = address

    def run(self, jobs: list[PrepareJob]) -> Iterator[EmbeddedFile | Failed]:
        if not jobs:
            return
        import ray

        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING)
        try:
            for row in self._dataset(ray, jobs).iter_rows():
                yield from self._outcome(row)
        finally:
            if started_here:
                ray.shutdown()

    def _dataset(self, ray: Any, jobs: list[PrepareJob]) -> Any:
        """The pipeline of steps 1-3, lazily: nothing runs until rows are read."""
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # the writer publishes in order
        context.enable_progress_bars = False
        resources = ray.cluster_resources()
        cpus, gpus = int(resources.get("CPU", 1)), int(resources.get("GPU", 0))
        encoders = gpus or max(1, cpus // 2)
        return (
            ray.data.from_items([{"job": pickle.dumps(job)} for job in jobs])
            .map(_PrepareActor, fn_constructor_args=(self.spec,),
                 concurrency=max(1, cpus - encoders), num_cpus=1)
            .map_batches(_EncodeActor, fn_constructor_args=(self.settings,
                                                            self.encoder.model_id),
                         batch_size=FILES_PER_ENCODER_BATCH, concurrency=encoders,
                         num_gpus=1 if gpus else 0, num_cpus=0 if gpus else 1)
        )

    def _outcome(self, row: dict[str, Any]) -> Iterator[EmbeddedFile | Failed]:
        outcome: Prepared | Failed = pickle.loads(row["outcome"])
        if isinstance(outcome, Failed):
            yield outcome
            return
        vectors = np.frombuffer(row["vectors"], dtype=np.float32).reshape(
            len(outcome.chunks), self.encoder.dimension)
        fresh = dict(zip((text_hash(c.text) for c in outcome.chunks), vectors, strict=True))
        self.cache.save(fresh)
        yield from self.hand_out([outcome], fresh, set(fresh))
