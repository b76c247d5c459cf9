"""The data directories that ``bench.query_latency`` times over HTTP: a given number of chunks
of real text, written through the product's own writer, with vectors partly real.

Why it is built this way:

* Texts are real: SciFact abstracts (``../shared/data/scifact_train/corpus.jsonl``, read in
  place) split into passages of 1-3 sentences, the size a chunk has. The first passages are the
  non-overlapping split of each abstract (what chunking would give); past those, overlapping
  windows of 2, 3 and 4 sentences supply further distinct passages, and only if those run out
  are passages repeated with a " (part k)" suffix. Ten passages make a document; offices cycle
  Boston/Paris/Berlin/Madrid, types cycle, language "en".
* Vectors: the first ``n_real`` passages are embedded for real with the configured model
  (cached in the work folder, since embedding is the slow part; rates in docs/performance.md).
  Embedding every passage of a large index would take far too long here, so every passage
  past those gets the real vector of a random embedded passage plus Gaussian noise (``sigma``
  per dimension, renormalised): the index has the right size, dimension and score
  distribution, but a synthetic vector does not describe its own text, so dense *relevance* on
  a large index is meaningless; only its cost is real.
* Everything else is real: documents and chunks go through ``KnowledgeBase.writer()`` and
  ``Writer.put`` / ``publish`` (a publish every ``PUBLISH_EVERY`` chunks) exactly like an
  ingest, so SQLite, the Tantivy keyword index and the FAISS generation are built and kept in step
  by the product code.

A built data directory is reused when its marker file and chunk count match (``rebuild``
forces a new one): building one is far slower than measuring it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import REPO, SENTENCE_END, log, scratch_knowledge_base
from evaluation.beir import read_jsonl
from search.knowledge_base import KnowledgeBase
from search.records import DocType, DocumentMeta, NewChunk

SCIFACT = REPO.parent / "shared" / "data" / "scifact_train"
OFFICES = [("Boston", "US"), ("Paris", "EU"), ("Berlin", "EU"), ("Madrid", "EU")]
DOC_TYPES = [DocType.report, DocType.interview, DocType.pitch_deck, DocType.other]
CHUNKS_PER_DOC = 10
PUBLISH_EVERY = 5000
BUILD_VERSION = 1  # bump when the way texts, documents or vectors are made changes


# --- texts ------------------------------------------------------------------------
def _sentences(text: str) -> list[str]:
    """Sentences of an abstract; fragments (``et al.``, ``n = 17.``) join their neighbour."""
    out: list[str] = []
    for piece in SENTENCE_END.split(" ".join(text.split())):
        if out and (len(piece) < 40 or len(out[-1]) < 40):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out


def _split(sentences: list[str], max_words: int = 90, target_words: int = 45) -> list[str]:
    """Non-overlapping passages of 1-3 sentences, ~45-90 words (the chunker's view)."""
    passages: list[str] = []
    current: list[str] = []
    for sentence in sentences:
        words = sum(len(s.split()) for s in current)
        if current and (len(current) == 3 or words + len(sentence.split()) > max_words
                        or words >= target_words):
            passages.append(" ".join(current))
            current = []
        current.append(sentence)
    if current:
        passages.append(" ".join(current))
    return passages


def passages(n: int) -> list[tuple[str, str]]:
    """``n`` distinct (passage, abstract title) pairs from SciFact, deterministic."""
    split = [(a["title"], _sentences(a["text"])) for a in read_jsonl(SCIFACT / "corpus.jsonl")
             if a.get("text")]
    out: list[tuple[str, str]] = []
    seen: set[str] = set()

    def take(text: str, title: str) -> bool:
        if len(text.split()) >= 12 and text not in seen:
            seen.add(text)
            out.append((text, title))
        return len(out) >= n

    for title, sentences in split:
        for text in _split(sentences):
            if take(text, title):
                return out
    for width in (2, 3, 4):
        for title, sentences in split:
            for start in range(len(sentences) - width + 1):
                if take(" ".join(sentences[start:start + width]), title):
                    return out
    base = list(out)
    part = 2
    while True:
        for text, title in base:
            if take(f"{text} (part {part})", title):
                return out
        part += 1


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


# --- vectors ----------------------------------------------------------------------
def real_vectors(kb: KnowledgeBase, texts: list[str], workdir: Path) -> np.ndarray:
    """Embeddings of ``texts``, cached in ``workdir``: the longest cached prefix is reused."""
    cache, index = workdir / "real-vectors.npy", workdir / "real-vectors.json"
    hashes = [_digest(t) for t in texts]
    vectors = np.zeros((0, kb.encoder.dimension), np.float32)
    if cache.exists() and index.exists():
        stored = json.loads(index.read_text())
        if stored.get("model") == kb.encoder.model_id:
            done = 0
            while done < min(len(stored["hashes"]), len(hashes)) and \
                    stored["hashes"][done] == hashes[done]:
                done += 1
            vectors = np.load(cache)[:done]
    started, first = time.perf_counter(), len(vectors)
    while len(vectors) < len(texts):
        batch = texts[len(vectors):len(vectors) + 256]
        vectors = np.concatenate([vectors, kb.encoder.encode_documents(batch)])
        np.save(cache, vectors)
        index.write_text(json.dumps({"model": kb.encoder.model_id,
                                     "hashes": hashes[:len(vectors)]}))
        rate = (len(vectors) - first) / (time.perf_counter() - started)
        log(f"  embedded {len(vectors)}/{len(texts)} passages ({rate:.1f}/s)")
    return vectors[:len(texts)]


def synthetic_vectors(real: np.ndarray, n: int, sigma: float,
                      rng: np.random.Generator) -> np.ndarray:
    """``n`` vectors near random real ones: real + N(0, sigma) per dimension, renormalised."""
    picked = real[rng.integers(0, len(real), n)]
    noisy = picked + rng.normal(0.0, sigma, picked.shape).astype(np.float32)
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)


# --- building a data directory ----------------------------------------------------------
def build(data_dir: Path, size: int, n_real: int, sigma: float, seed: int,
          workdir: Path, rebuild: bool) -> dict[str, Any]:
    """A data directory of ``size`` chunks (reused when already built the same way)."""
    marker = data_dir / "bench-build.json"
    wanted = {"version": BUILD_VERSION, "chunks": size, "real": min(n_real, size),
              "sigma": sigma, "seed": seed}
    if not rebuild and marker.exists():
        built = json.loads(marker.read_text())
        if {k: built.get(k) for k in wanted} == wanted:
            kb = scratch_knowledge_base(data_dir)
            if kb.status()["chunks"] == size:
                log(f"reusing {data_dir} ({size} chunks)")
                return {**built, "reused": True}
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    # the words of "why it matched" serve bridges, not searches: embedding every new word of a
    # large index would take longer than the rest of the build
    kb = scratch_knowledge_base(data_dir, store_word_vectors=False)
    started = time.perf_counter()
    items = passages(size)
    texts = [t for t, _ in items]
    real = real_vectors(kb, texts[:wanted["real"]], workdir)
    rng = np.random.default_rng(seed)
    log(f"building {data_dir}: {size} chunks, {len(real)} real vectors")
    build_started = time.perf_counter()
    with kb.writer() as writer:
        pending = 0
        for doc, start in enumerate(range(0, size, CHUNKS_PER_DOC)):
            block = items[start:start + CHUNKS_PER_DOC]
            chunk_texts = [t for t, _ in block]
            n_real_here = max(0, min(len(block), len(real) - start))
            vectors = real[start:start + n_real_here]
            if n_real_here < len(block):
                vectors = np.concatenate(
                    [vectors, synthetic_vectors(real, len(block) - n_real_here, sigma, rng)])
            office, region = OFFICES[doc % len(OFFICES)]
            meta = DocumentMeta(
                title=block[0][1], office=office, region=region,
                doc_type=DOC_TYPES[doc % len(DOC_TYPES)], language="en",
                source_path=f"/bench/doc-{doc}.md",
                content_hash=hashlib.sha256(
                    f"bench-{doc}\n".encode() + "\n".join(chunk_texts).encode()).hexdigest())
            chunks = [NewChunk(text=t, language="en", n_tokens=kb.encoder.count_tokens(t))
                      for t in chunk_texts]
            writer.put(meta, chunks, vectors)
            pending += len(chunks)
            if pending >= PUBLISH_EVERY:
                writer.publish()
                pending = 0
                log(f"  published {start + len(block)}/{size} chunks "
                    f"({time.perf_counter() - build_started:.0f}s)")
    counts = kb.status()
    if counts["chunks"] != size:
        raise RuntimeError(f"built {counts['chunks']} chunks, wanted {size}")
    tokens = [c.n_tokens for c in chunks]
    built = {**wanted, "documents": counts["documents"],
             "build_s": round(time.perf_counter() - build_started, 1),
             "total_s_with_embedding": round(time.perf_counter() - started, 1),
             "mean_tokens_last_doc": round(sum(tokens) / len(tokens), 1)}
    marker.write_text(json.dumps(built))
    return {**built, "reused": False}
