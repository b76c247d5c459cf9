"""Vector index types at scale: build time, bytes per vector, recall@10 and single-query latency.

    OMP_NUM_THREADS=2 python -m bench.index_scale [--vectors 1000000]
        [--base-data ../shared/data/scifact_train] [--base-docs 3000] [--queries 1000]
        [--latency-queries 1000] [--flat-latency-queries 100] [--workdir /tmp/bridge-index-scale]
        [--seed 7] [--json-out FILE]

Measured, for each index type, on the same ``--vectors`` unit vectors (384-dim, inner product):

* ``flat``: ``IndexIDMap2(IndexFlatIP)``, what ``search/index/faiss_index.py`` runs today; it is
  also the exact reference every recall is measured against.
* ``hnsw``: ``IndexIDMap2(IndexHNSWFlat)``, M=32, efConstruction=80; efSearch swept 32/64/128/256.
* ``ivf_sq8``: ``index_factory(d, "IVF{nlist},SQ8", METRIC_INNER_PRODUCT)`` with nlist =
  4*sqrt(N) (rounded), k-means trained on 32 vectors per list drawn at random, ids stored in the
  inverted lists (``add_with_ids``); nprobe swept 8/16/32/64/128.

Per type: build time (train + add, the configured OpenMP threads), bytes per vector (the
``faiss.serialize_index`` size / N, i.e. what the index file and its RAM image hold, ids
included) and the process's RSS growth while building (allocator noise included); per search
setting: recall@10 against exact search on the same queries (batched), and p50/p99 latency of
single queries (one at a time, k=10) with 1 thread and with the configured threads. Flat
latency uses only ``--flat-latency-queries`` queries (each one scans every vector). Last, each
index is asked to ``remove_ids`` 1,000 of its ids, since the writer deletes chunks by id and an
index that cannot do that cannot back incremental re-indexing.

What is real and what is synthetic:

* Base vectors are real: the chunks of ``corpus/`` (ingested into a scratch knowledge base with
  the product's ``Ingestor``, vectors read back from its store) and, with ``--base-data``, the
  first passage (1-3 sentences, at most ~90 words, the chunker's size) of each of the first
  ``--base-docs`` abstracts of a BEIR folder, read in place and embedded with the configured
  encoder (~13 passages/s on 2 cores; cached as .npy in ``--workdir`` so reruns skip it).
* The index holds the base vectors plus noisy copies up to ``--vectors``: a copy is a random
  base vector plus Gaussian noise whose scale is drawn per copy so that its cosine with its
  source is uniform in 0.90-0.97, renormalised; fixed seed. Sizes, dimension and the score
  range are realistic; the neighbourhood structure is not (each base vector gets a tight
  cluster of ~N/base copies, so the top 10 of a query are near-ties inside one cluster, which
  makes recall@10 harsher than on real text).
* Queries: ``--queries`` held-out noisy copies (made the same way, not in the index) plus the
  real query embeddings (``encode_queries``) of the planted and evaluation queries of
  ``corpus/planted.yaml`` and ``corpus/eval_queries.yaml``; recall is reported for both groups.

The figures are printed as a table (stderr) and one JSON object (stdout; ``--json-out`` also
writes it), with the machine's load average, since other jobs may share its cores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from bench.common import (
    CORPUS,
    corpus_queries,
    emit,
    load_average,
    log,
    percentile,
    scratch_knowledge_base,
)
from evaluation.beir import read_jsonl
from ingest.pipeline import Ingestor
from search.embedding import Encoder
from search.settings import Settings

K = 10
RECALL_GOAL = 0.95
COSINE_RANGE = (0.90, 0.97)
HNSW_M, HNSW_EF_CONSTRUCTION = 32, 80
EF_SEARCH = (32, 64, 128, 256)
NPROBE = (8, 16, 32, 64, 128)
TRAIN_PER_LIST = 32
REMOVE_N = 1000
BLOCK = 100_000
CACHE_VERSION = 1  # bump when the way base texts are chosen or embedded changes

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")


def rss_bytes() -> int:
    """Resident set size of this process now (Linux /proc; 0 elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@contextmanager
def threads(n: int) -> Iterator[None]:
    """FAISS's OpenMP threads set to ``n`` for the block, restored after."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


# --- base vectors (real) -------------------------------------------------------------------
def _first_passage(text: str, max_words: int = 90) -> str:
    """The first 1-3 sentences of an abstract, at most ~``max_words``: one chunk's worth."""
    sentences = _SENTENCE.split(" ".join(text.split()))
    out: list[str] = []
    for sentence in sentences[:3]:
        if out and sum(len(s.split()) for s in out) + len(sentence.split()) > max_words:
            break
        out.append(sentence)
    return " ".join(out) if out else " ".join(text.split()[:max_words])


def beir_passages(folder: Path, n: int) -> list[str]:
    """First passages of the first ``n`` abstracts with text of ``folder``/corpus.jsonl."""
    texts = (str(record.get("text") or "") for record in read_jsonl(folder / "corpus.jsonl"))
    with_text = (text for text in texts if len(text.split()) >= 12)
    return [_first_passage(text) for text in islice(with_text, n)]


def corpus_vectors() -> tuple[np.ndarray, Encoder]:
    """The chunk vectors of ``corpus/``, through the product's own ingest, and its encoder."""
    kb = scratch_knowledge_base()
    log(f"ingesting {CORPUS} into {kb.settings.data_dir}")
    Ingestor(kb).run([CORPUS])
    with kb.store.connect() as db:
        stored = kb.store.all_vectors(db, kb.encoder.model_id, kb.encoder.dimension)
    return np.ascontiguousarray(stored.vectors, dtype=np.float32), kb.encoder


def embed(model: Encoder, texts: list[str], what: str) -> np.ndarray:
    """``encode_documents`` in batches of 256, with progress: it is the slow part."""
    parts: list[np.ndarray] = []
    started = time.perf_counter()
    for start in range(0, len(texts), 256):
        parts.append(model.encode_documents(texts[start:start + 256]))
        done = start + len(parts[-1])
        log(f"  embedded {done}/{len(texts)} {what} "
            f"({done / (time.perf_counter() - started):.1f}/s)")
    return np.concatenate(parts) if parts else np.zeros((0, model.dimension), np.float32)


def base_and_queries(base_data: Path | None, base_docs: int,
                     workdir: Path) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Real base vectors and real query vectors, cached in ``workdir`` (keyed by their texts)."""
    settings = Settings()
    passages = beir_passages(base_data, base_docs) if base_data else []
    texts = corpus_queries()
    key = hashlib.blake2b(json.dumps([CACHE_VERSION, settings.model, str(base_data), passages,
                                      texts]).encode(), digest_size=8).hexdigest()
    base_file, query_file = workdir / f"base-{key}.npy", workdir / f"queries-{key}.npy"
    meta_file = workdir / f"base-{key}.json"
    if base_file.exists() and query_file.exists() and meta_file.exists():
        log(f"reusing cached base vectors {base_file}")
        return np.load(base_file), np.load(query_file), json.loads(meta_file.read_text())
    started = time.perf_counter()
    corpus, model = corpus_vectors()
    beir = embed(model, passages, "BEIR passages")
    base = np.ascontiguousarray(np.concatenate([corpus, beir]), dtype=np.float32)
    query_vectors = model.encode_queries(texts)
    meta = {"model": model.model_id, "corpus_chunks": len(corpus), "beir_passages": len(beir),
            "base_data": str(base_data) if base_data else None, "real_queries": len(texts),
            "embed_s": round(time.perf_counter() - started, 1)}
    workdir.mkdir(parents=True, exist_ok=True)
    np.save(base_file, base)
    np.save(query_file, query_vectors)
    meta_file.write_text(json.dumps(meta))
    return base, query_vectors, meta


# --- synthetic copies ----------------------------------------------------------------------
def noisy_copies(base: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` copies of random base vectors, each at cosine ~U(0.90, 0.97) from its source.

    For a unit vector plus N(0, s^2) per dimension, the cosine is about 1/sqrt(1 + d s^2), so
    s = sqrt((1/c^2 - 1) / d) for a target cosine c. Built in blocks to bound the memory.
    """
    d = base.shape[1]
    out = np.empty((n, d), np.float32)
    for start in range(0, n, BLOCK):
        m = min(BLOCK, n - start)
        cos = rng.uniform(*COSINE_RANGE, m)
        scale = np.sqrt((1 / cos**2 - 1) / d).astype(np.float32)[:, None]
        block = base[rng.integers(0, len(base), m)]
        block += rng.standard_normal((m, d), dtype=np.float32) * scale
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start:start + m] = block
    return out


def dataset(base: np.ndarray, n_vectors: int, n_queries: int,
            seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """The indexed vectors (base first, then copies), held-out copies, their mean cosine."""
    rng = np.random.default_rng(seed)
    n_base = min(len(base), n_vectors)
    vectors = np.concatenate([base[:n_base], noisy_copies(base, n_vectors - n_base, rng)])
    held_out = noisy_copies(base, n_queries, rng)
    sample = min(10_000, n_vectors - n_base)
    mean_cos = float(np.mean(np.max(vectors[n_base:n_base + sample] @ base.T, axis=1))) \
        if sample else 1.0
    return vectors, held_out, mean_cos


# --- index types ---------------------------------------------------------------------------
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


# --- measuring -----------------------------------------------------------------------------
def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of the exact top k found in the approximate top k."""
    hits = sum(len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, truth, strict=True))
    return hits / truth.size


def single_query_ms(index: faiss.Index, queries: np.ndarray, n_threads: int) -> dict[str, float]:
    """p50/p99/mean of one-at-a-time searches (k=10) with ``n_threads`` OpenMP threads."""
    times: list[float] = []
    with threads(n_threads):
        for row in queries[:5]:  # warm-up
            index.search(row[None, :], K)
        for row in queries:
            t0 = time.perf_counter()
            index.search(row[None, :], K)
            times.append((time.perf_counter() - t0) * 1000)
    return {"p50": round(percentile(times, 50), 3), "p99": round(percentile(times, 99), 3),
            "mean": round(sum(times) / len(times), 3), "n": len(times)}


def removal(index: faiss.Index, ids: np.ndarray) -> dict[str, Any]:
    """Whether ``remove_ids`` works on this index, and how long 1,000 removals take."""
    before = index.ntotal
    t0 = time.perf_counter()
    try:
        removed = index.remove_ids(ids)
    except RuntimeError as error:
        return {"supported": False, "error": str(error).strip().splitlines()[-1][:200]}
    return {"supported": True, "removed": int(removed), "ntotal_before": int(before),
            "ntotal_after": int(index.ntotal),
            "ms": round((time.perf_counter() - t0) * 1000, 1)}


def measure_type(kind: IndexType, vectors: np.ndarray, queries: dict[str, np.ndarray],
                 truth: dict[str, np.ndarray], args: argparse.Namespace,
                 configured: int) -> dict[str, Any]:
    """Build one index type, then sweep its knob: recall and latency per setting."""
    ids = np.arange(len(vectors), dtype=np.int64)
    rss_before = rss_bytes()
    t0 = time.perf_counter()
    index = kind.build(vectors, ids)
    build_s = time.perf_counter() - t0
    rss_after = rss_bytes()
    serialised = int(faiss.serialize_index(index).size)
    log(f"  {kind.name}: built in {build_s:.1f}s, {serialised / len(vectors):.1f} bytes/vector")
    n_latency = args.flat_latency_queries if kind.name == "flat" else args.latency_queries
    latency_queries = queries["held_out"][:n_latency]
    settings = []
    for value in kind.values:
        if value is not None:
            kind.set_knob(index, value)
        row: dict[str, Any] = {kind.knob: value}
        for group, q in queries.items():
            _, found = index.search(q, K)
            row[f"recall@10_{group}"] = round(recall_at_k(found, truth[group]), 4)
        row["latency_ms_1_thread"] = single_query_ms(index, latency_queries, 1)
        row[f"latency_ms_{configured}_threads"] = single_query_ms(index, latency_queries,
                                                                   configured)
        settings.append(row)
        log(f"    {kind.knob}={value}: recall@10 {row['recall@10_held_out']:.3f} "
            f"(real queries {row['recall@10_real']:.3f}), p50 "
            f"{row['latency_ms_1_thread']['p50']:.2f} ms")
    first = next((r[kind.knob] for r in settings if r["recall@10_held_out"] >= RECALL_GOAL
                  and r["recall@10_real"] >= RECALL_GOAL), None)
    rng = np.random.default_rng(2)
    result = {
        "index": kind.description, "build_s": round(build_s, 1),
        "bytes_per_vector_serialised": round(serialised / len(vectors), 1),
        "serialised_mb": round(serialised / 2**20, 1),
        "rss_growth_bytes_per_vector": round((rss_after - rss_before) / len(vectors), 1),
        "settings": settings,
        "first_setting_recall_ge_0.95": f"{kind.knob}={first}" if first else (
            "exact" if kind.name == "flat" else "none swept"),
        "remove_ids": removal(index, rng.choice(ids, min(REMOVE_N, len(ids)), replace=False)),
    }
    del index
    return result


def exact_neighbours(vectors: np.ndarray, queries: dict[str, np.ndarray]) -> dict[str, Any]:
    """The exact top 10 of every query (batched flat search), the reference for recall."""
    reference = faiss.IndexFlatIP(vectors.shape[1])
    reference.add(vectors)
    return {group: reference.search(q, K)[1] for group, q in queries.items()}


# --- output --------------------------------------------------------------------------------
def table(result: dict[str, Any], configured: int) -> str:
    """A plain-text table: one line per index type and search setting."""
    head = (f"{'index':<8} {'setting':<13} {'build s':>8} {'B/vec':>7} {'rec@10':>7} "
            f"{'rec real':>8} {'p50/p99 ms 1t':>15} {f'p50/p99 ms {configured}t':>15} "
            f"{'remove_ids':>10}")
    lines = [head, "-" * len(head)]
    for name, entry in result["types"].items():
        for row in entry["settings"]:
            knob = next(iter(row))
            one, many = row["latency_ms_1_thread"], row[f"latency_ms_{configured}_threads"]
            lines.append(
                f"{name:<8} {(f'{knob}={row[knob]}' if row[knob] else 'exact'):<13} "
                f"{entry['build_s']:>8.1f} {entry['bytes_per_vector_serialised']:>7.0f} "
                f"{row['recall@10_held_out']:>7.3f} {row['recall@10_real']:>8.3f} "
                f"{one['p50']:>7.2f}/{one['p99']:<7.2f} {many['p50']:>7.2f}/{many['p99']:<7.2f} "
                f"{'yes' if entry['remove_ids']['supported'] else 'no':>10}")
    lines.append(f"first setting with recall@10 >= {RECALL_GOAL} (held-out and real queries): "
                 + "; ".join(f"{name} {entry['first_setting_recall_ge_0.95']}"
                             for name, entry in result["types"].items()))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--base-data", type=Path, default=None,
                        help="a BEIR folder (corpus.jsonl) read in place, e.g. "
                             "../shared/data/scifact_train")
    parser.add_argument("--base-docs", type=int, default=3000,
                        help="abstracts of --base-data embedded for the base (~13/s)")
    parser.add_argument("--queries", type=int, default=1000, help="held-out noisy queries")
    parser.add_argument("--latency-queries", type=int, default=1000,
                        help="single queries timed per setting (held-out ones)")
    parser.add_argument("--flat-latency-queries", type=int, default=100,
                        help="single queries timed on the flat index (each scans all vectors)")
    parser.add_argument("--types", default="flat,hnsw,ivf_sq8")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bridge-index-scale"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    started = time.perf_counter()
    configured = faiss.omp_get_max_threads()
    load_start = load_average()
    base, real, base_meta = base_and_queries(args.base_data, args.base_docs, args.workdir)
    vectors, held_out, mean_cos = dataset(base, args.vectors, args.queries, args.seed)
    queries = {"held_out": held_out, "real": real}
    log(f"{len(vectors)} vectors from {len(base)} real ones (copies' mean cosine with their "
        f"nearest base vector {mean_cos:.3f}); {len(held_out)} held-out + {len(real)} real "
        f"queries; {configured} threads")
    t0 = time.perf_counter()
    truth = exact_neighbours(vectors, queries)
    exact_s = time.perf_counter() - t0
    result: dict[str, Any] = {
        "what": "FAISS index types on the same unit vectors (inner product, k=10): build time, "
                "serialised bytes per vector, recall@10 against exact search, single-query "
                "latency with 1 and the configured OpenMP threads, remove_ids support",
        "vectors": len(vectors), "dimension": int(vectors.shape[1]),
        "base": {**base_meta, "vectors": len(base)},
        "synthetic": f"noisy copies, cosine with source ~U{COSINE_RANGE}, seed {args.seed}; "
                     f"measured mean cosine with nearest base vector {mean_cos:.3f}",
        "queries": {"held_out": len(held_out), "real": len(real)},
        "exact_batch_search_s": round(exact_s, 1),
        "threads_configured": configured, "cpus": os.cpu_count(), "faiss": faiss.__version__,
        "load_avg_start": load_start, "types": {},
    }
    wanted = args.types.split(",")
    for kind in index_types(len(vectors)):
        if kind.name in wanted:
            log(f"measuring {kind.name}")
            result["types"][kind.name] = measure_type(kind, vectors, queries, truth, args,
                                                      configured)
    result["load_avg_end"] = load_average()
    result["run_s"] = round(time.perf_counter() - started, 1)
    log(table(result, configured))
    emit(result, args.json_out)


if __name__ == "__main__":
    main()
