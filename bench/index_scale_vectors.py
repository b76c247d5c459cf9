"""The vectors ``bench.index_scale`` indexes and queries: real embeddings, and noisy copies of
them up to the size asked, since embedding millions of passages is out of reach here.

* Base vectors are real: the chunks of ``corpus/`` (ingested into a scratch knowledge base with
  the product's ``Ingestor``, vectors read back from its store) and, with a BEIR folder, the
  first passage (1-3 sentences, at most ~90 words, the chunker's size) of each of its first
  abstracts, read in place and embedded with the configured encoder (the slow part, so cached
  as .npy in the work folder and skipped by reruns).
* The index holds the base vectors plus noisy copies up to the size asked: a copy is a random
  base vector plus Gaussian noise whose scale is drawn per copy so that its cosine with its
  source is uniform in ``COSINE_RANGE``, renormalised; fixed seed. Sizes, dimension and the
  score range are realistic; the neighbourhood structure is not (each base vector gets a tight
  cluster of ~N/base copies, so the top 10 of a query are near-ties inside one cluster, which
  makes recall@10 harsher than on real text).
* Queries: held-out noisy copies (made the same way, not in the index) plus the real query
  embeddings (``encode_queries``) of the planted and evaluation queries of
  ``corpus/planted.yaml`` and ``corpus/eval_queries.yaml``, so that recall is seen both on the
  synthetic structure and on real queries.
"""

from __future__ import annotations

import hashlib
import json
import time
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (
    CORPUS,
    SENTENCE_END,
    corpus_queries,
    log,
    scratch_knowledge_base,
)
from evaluation.beir import read_jsonl
from ingest.pipeline import Ingestor
from search.embedding import Encoder
from search.embedding_cache import all_vectors
from search.settings import Settings

COSINE_RANGE = (0.90, 0.97)
BLOCK = 100_000  # copies made at a time, to bound the memory
CACHE_VERSION = 1  # bump when the way base texts are chosen or embedded changes


# --- base vectors (real) -------------------------------------------------------------------
def _first_passage(text: str, max_words: int = 90) -> str:
    """The first 1-3 sentences of an abstract, at most ~``max_words``: one chunk's worth."""
    sentences = SENTENCE_END.split(" ".join(text.split()))
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
    with kb.database.connect() as db:
        stored = all_vectors(db, kb.encoder.model_id, kb.encoder.dimension)
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
