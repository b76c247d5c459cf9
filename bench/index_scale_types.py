"""The FAISS index types ``bench.index_scale`` compares, each with the search knob it sweeps:

* ``flat``: ``IndexIDMap2(IndexFlatIP)``, what ``search/index/faiss_index.py`` runs today; it is
  also the exact reference every recall is measured against.
* ``hnsw``: ``IndexIDMap2(IndexHNSWFlat)``, M=32, efConstruction=80; efSearch swept.
* ``ivf_sq8``: ``index_factory(d, "IVF{nlist},SQ8", METRIC_INNER_PRODUCT)`` with nlist =
  4*sqrt(N) (rounded), k-means trained on ``TRAIN_PER_LIST`` vectors per list drawn at random,
  ids stored in the inverted lists (``add_with_ids``); nprobe swept.

Each is built the way the product would build it, ids included, because an index that cannot
keep the writer's chunk ids cannot replace today's.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import faiss
import numpy as np

from bench.common import log

HNSW_M, HNSW_EF_CONSTRUCTION = 32, 80
EF_SEARCH = (32, 64, 128, 256)
NPROBE = (8, 16, 32, 64, 128)
TRAIN_PER_LIST = 32
BLOCK = 100_000  # vectors added at a time, so that progress shows on a large index


@dataclass
class IndexType:
    """How to build one index type, and the search knob swept for it."""

    name: str
    description: str
    build: Callable[[np.ndarray, np.ndarray], faiss.Index]
    knob: str
    values: tuple[int | None, ...]
    set_knob: Callable[[faiss.Index, int], None]


def build_flat(vectors: np.ndarray, ids: np.ndarray) -> faiss.Index:
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
    index.add_with_ids(vectors, ids)
    return index


def build_hnsw(vectors: np.ndarray, ids: np.ndarray) -> faiss.Index:
    """HNSW has no ids of its own: IndexIDMap2 maps them, as for the flat index today."""
    inner = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index = faiss.IndexIDMap2(inner)
    for start in range(0, len(vectors), BLOCK):
        index.add_with_ids(vectors[start:start + BLOCK], ids[start:start + BLOCK])
        log(f"    hnsw: added {min(start + BLOCK, len(vectors))}/{len(vectors)}")
    return index


def nlist_for(n: int) -> int:
    return max(16, round(4 * math.sqrt(n)))


def build_ivf_sq8(vectors: np.ndarray, ids: np.ndarray) -> faiss.Index:
    """IVF keeps ids in its inverted lists, so no IndexIDMap2 is needed (and remove works)."""
    nlist = nlist_for(len(vectors))
    index = faiss.index_factory(vectors.shape[1], f"IVF{nlist},SQ8", faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(1)
    n_train = min(len(vectors), TRAIN_PER_LIST * nlist)
    sample = vectors[np.sort(rng.choice(len(vectors), n_train, replace=False))]
    started = time.perf_counter()
    index.train(sample)
    log(f"    ivf_sq8: trained nlist={nlist} on {n_train} in {time.perf_counter() - started:.1f}s")
    for start in range(0, len(vectors), BLOCK):
        index.add_with_ids(vectors[start:start + BLOCK], ids[start:start + BLOCK])
    return index


def set_ef_search(index: faiss.Index, value: int) -> None:
    faiss.downcast_index(index.index).hnsw.efSearch = value


def set_nprobe(index: faiss.Index, value: int) -> None:
    faiss.extract_index_ivf(index).nprobe = value


def index_types(n: int) -> list[IndexType]:
    return [
        IndexType("flat", "IndexIDMap2(IndexFlatIP) (today's index; exact)", build_flat,
                  "exact", (None,), lambda index, value: None),
        IndexType("hnsw", f"IndexIDMap2(IndexHNSWFlat M={HNSW_M} "
                  f"efConstruction={HNSW_EF_CONSTRUCTION})", build_hnsw, "efSearch", EF_SEARCH,
                  set_ef_search),
        IndexType("ivf_sq8", f"IVF{nlist_for(n)},SQ8 (inner product, ids in the lists)",
                  build_ivf_sq8, "nprobe", NPROBE, set_nprobe),
    ]
