"""Query latency: p50/p95/p99 per search mode, over HTTP at several index sizes or in process
on the sample corpus.

    python -m bench.query_latency [--sizes 5000,100000] [--real 5000] [--queries 200]
                                  [--workdir /tmp/bridge-latency] [--json-out FILE] [--profile 50]
    python -m bench.query_latency --sample [--repeat 5] [--json-out FILE]

For each size it builds (or reuses) a data directory of that many chunks under ``--workdir``,
starts a real ``bridge serve`` on loopback (``api.local_server.bridge_server``), warms it up, then
sends ``--queries`` sequential ``POST /search`` requests (k=10) per mode: dense, lexical, hybrid,
and hybrid with an office filter. Modes are interleaved query by query so that background load
falls on all of them alike. Each request is timed on the client (wall time around the HTTP call,
so it includes the query's embedding, retrieval, snippets, serialisation and loopback HTTP) and
the server's own ``took_ms`` is recorded beside it. The figures are printed as one JSON object
(``--json-out`` also writes it), with the load average of the machine before and after, since
other jobs may share its cores. ``--profile N`` then times N hybrid queries in process on the
largest index, stage by stage (language detection, query embedding, FTS5, FAISS, chunk fetch,
fusion, snippets, response models), and lists the functions that dominate (cProfile).

What is real and what is synthetic:

* Texts are real: SciFact abstracts (``../shared/data/scifact_train/corpus.jsonl``, read in
  place) split into passages of 1-3 sentences (~40-150 tokens). The first passages are the
  non-overlapping split of each abstract (what chunking would give); past those, overlapping
  windows of 2, 3 and 4 sentences supply further distinct passages, and only if those run out
  are passages repeated with a " (part k)" suffix. Ten passages make a document; offices cycle
  Boston/Paris/Berlin/Madrid, types cycle, language "en".
* Vectors: the first ``--real`` (5,000) passages are embedded for real with the configured
  model (cached in ``--workdir``, ~8 min on 2 cores the first time). Embedding 100,000 passages
  would take about 3 hours here, so every passage past those gets the real vector of a random
  embedded passage plus Gaussian noise (sigma 0.02 per dimension, renormalised): the index has
  the right size, dimension and score distribution, but a synthetic vector does not describe
  its own text, so dense *relevance* on the large index is meaningless; only its cost is real.
* Everything else is real: documents and chunks go through ``KnowledgeBase.writer()`` and
  ``Writer.put`` / ``publish`` (a publish every ~5,000 chunks) exactly like an ingest, so SQLite,
  the FTS5 keyword index and the FAISS generation are built and kept in step by the product code;
  queries are real SciFact claims (``queries.jsonl``), each embedded by the server per request.

A built data directory is reused when its marker file and chunk count match (``--rebuild``
forces a new one).

``--sample`` measures the small multilingual demo instead, in process (query embedding, FAISS,
SQLite; no HTTP): corpus/ is ingested into a scratch data directory, then every planted query
(English, French, German, Spanish) runs ``--repeat`` times without a filter, with its own
office as the filter, and grouped by document (``search_documents``), each with k=10.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import pstats
import re
import shutil
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (
    CORPUS,
    REPO,
    emit,
    index_counts,
    load_average,
    log,
    percentile,
    planted_findings,
    scratch_knowledge_base,
)
from evaluation.beir import read_jsonl, read_texts
from ingest.pipeline import Ingestor
from search.knowledge_base import KnowledgeBase
from search.records import DocType, DocumentMeta, Filters, NewChunk

SCIFACT = REPO.parent / "shared" / "data" / "scifact_train"
OFFICES = [("Boston", "US"), ("Paris", "EU"), ("Berlin", "EU"), ("Madrid", "EU")]
DOC_TYPES = [DocType.report, DocType.interview, DocType.pitch_deck, DocType.other]
CHUNKS_PER_DOC = 10
PUBLISH_EVERY = 5000
MODES: list[tuple[str, dict[str, Any]]] = [
    ("dense", {"mode": "dense"}),
    ("lexical", {"mode": "lexical"}),
    ("hybrid", {"mode": "hybrid"}),
    ("hybrid_office_filter", {"mode": "hybrid", "filters": {"office": ["Paris"]}}),
]
BUILD_VERSION = 1  # bump when the way texts, documents or vectors are made changes

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")


# --- texts ------------------------------------------------------------------------
def _sentences(text: str) -> list[str]:
    """Sentences of an abstract; fragments (``et al.``, ``n = 17.``) join their neighbour."""
    out: list[str] = []
    for piece in _SENTENCE.split(" ".join(text.split())):
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
            if kb.store.counts()["chunks"] == size:
                log(f"reusing {data_dir} ({size} chunks)")
                return {**built, "reused": True}
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    kb = scratch_knowledge_base(data_dir)
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
    counts = kb.store.counts()
    if counts["chunks"] != size:
        raise RuntimeError(f"built {counts['chunks']} chunks, wanted {size}")
    tokens = [c.n_tokens for c in chunks]
    built = {**wanted, "documents": counts["documents"],
             "build_s": round(time.perf_counter() - build_started, 1),
             "total_s_with_embedding": round(time.perf_counter() - started, 1),
             "mean_tokens_last_doc": round(sum(tokens) / len(tokens), 1)}
    marker.write_text(json.dumps(built))
    return {**built, "reused": False}


# --- measuring over HTTP ----------------------------------------------------------------
def _stats(values: list[float]) -> dict[str, float]:
    return {"p50": round(percentile(values, 50), 2), "p95": round(percentile(values, 95), 2),
            "p99": round(percentile(values, 99), 2), "mean": round(sum(values) / len(values), 2),
            "max": round(max(values), 2)}


def _thread_env(threads: int | None) -> dict[str, str]:
    """Environment that caps the server's torch/OpenMP threads (nothing when None)."""
    if threads is None:
        return {}
    return {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}


def measure(data_dir: Path, claims: list[str], n_queries: int, warmup: int,
            threads: int | None = None) -> dict[str, Any]:
    from api.local_server import bridge_server

    env = {**os.environ, "BRIDGE_DATA_DIR": str(data_dir), **_thread_env(threads)}
    started = time.perf_counter()
    client_ms: dict[str, list[float]] = defaultdict(list)
    server_ms: dict[str, list[float]] = defaultdict(list)
    n_hits: dict[str, list[int]] = defaultdict(list)
    load_before = load_average()
    with bridge_server(env) as client:
        startup_s = round(time.perf_counter() - started, 1)
        counts = index_counts(client)
        for query in claims[-warmup:]:
            for _, extra in MODES:
                client.post("/search", json={"query": query, "k": 10, **extra}).raise_for_status()
        for i in range(n_queries):
            query = claims[i % len(claims)]
            for j in range(len(MODES)):  # rotate the order so no mode always goes first
                name, extra = MODES[(i + j) % len(MODES)]
                t0 = time.perf_counter()
                response = client.post("/search", json={"query": query, "k": 10, **extra})
                elapsed = (time.perf_counter() - t0) * 1000
                response.raise_for_status()
                body = response.json()
                client_ms[name].append(elapsed)
                server_ms[name].append(body["took_ms"])
                n_hits[name].append(len(body["hits"]))
    return {
        "documents": counts["documents"], "chunks": counts["chunks"],
        "server_startup_s": startup_s, "load_avg_before": load_before,
        "load_avg_after": load_average(),
        "modes": {name: {"n": len(client_ms[name]), "client_ms": _stats(client_ms[name]),
                         "server_took_ms": _stats(server_ms[name]),
                         "mean_hits": round(sum(n_hits[name]) / len(n_hits[name]), 2)}
                  for name, _ in MODES},
    }


# --- profiling in process ---------------------------------------------------------------
class _Timers:
    """Wraps methods with timers; calls nested inside an outer timed call count in both."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._undo: list[Callable[[], None]] = []

    def wrap(self, owner: Any, attribute: str, label: str) -> None:
        original = getattr(owner, attribute, None)
        if original is None:
            log(f"  (profile: {label} not found, skipped)")
            return

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.ms[label] += (time.perf_counter() - t0) * 1000
                self.calls[label] += 1

        had = attribute in vars(owner) if hasattr(owner, "__dict__") else False
        setattr(owner, attribute, timed)
        self._undo.append(
            (lambda: setattr(owner, attribute, original)) if had else
            (lambda: delattr(owner, attribute)))

    @contextmanager
    def installed(self) -> Iterator[_Timers]:
        try:
            yield self
        finally:
            for undo in reversed(self._undo):
                undo()


def profile(data_dir: Path, claims: list[str], n: int, threads: int | None) -> dict[str, Any]:
    """Stage timings and the dominant functions of ``n`` hybrid queries, in process (k=10)."""
    import torch

    import search.retrieval as retrieval
    from api.schemas import SearchResponse
    from search.index.faiss_index import FaissIndex

    if threads is not None:
        torch.set_num_threads(threads)
    kb = scratch_knowledge_base(data_dir)
    retriever = kb.retriever
    sample = claims[:n]
    for query in claims[-5:]:
        kb.search(query, k=10, mode="hybrid")
    timers = _Timers()
    timers.wrap(retriever.detector, "detect", "language_detection")
    timers.wrap(kb.encoder, "encode_queries", "query_embedding")
    timers.wrap(kb.store.lexical, "search", "fts5_bm25")
    timers.wrap(FaissIndex, "search", "faiss_search")
    timers.wrap(kb.store, "chunk_languages", "chunk_languages_for_fusion")
    timers.wrap(retrieval, "fuse", "rrf_fusion")
    timers.wrap(kb.store, "chunks_by_id", "chunk_fetch")
    timers.wrap(retriever.highlighter, "query_terms", "highlight_query_terms")
    timers.wrap(retriever.highlighter, "snippet", "snippets")
    timers.wrap(retriever, "_hit", "hit_models_incl_snippets")
    timers.wrap(retriever, "generation", "generation_check")
    total = 0.0
    serialise = 0.0
    with timers.installed():
        for query in sample:
            t0 = time.perf_counter()
            hits = kb.search(query, k=10, mode="hybrid")
            t1 = time.perf_counter()
            response = SearchResponse(query=query, mode="hybrid", k=10, offset=0, took_ms=0,
                                      hits=hits)
            # what FastAPI does with a response_model: validate, dump to JSON-able, encode
            checked = SearchResponse.model_validate(response.model_dump())
            json.dumps(checked.model_dump(mode="json")).encode()
            t2 = time.perf_counter()
            total += (t1 - t0) * 1000
            serialise += (t2 - t1) * 1000
    stages = {label: round(ms / n, 2) for label, ms in timers.ms.items()}
    stages["response_validate_and_json"] = round(serialise / n, 2)
    stages["hit_models_excl_snippets"] = round(
        stages.get("hit_models_incl_snippets", 0) - stages.get("snippets", 0), 2)
    top_level = ["generation_check", "language_detection", "query_embedding", "fts5_bm25",
                 "faiss_search", "chunk_languages_for_fusion", "rrf_fusion", "chunk_fetch",
                 "highlight_query_terms", "hit_models_incl_snippets"]
    stages["kb_search_total"] = round(total / n, 2)
    stages["other_in_kb_search"] = round(
        total / n - sum(stages.get(label, 0) for label in top_level), 2)

    profiler = cProfile.Profile()
    profiler.enable()
    for query in sample:
        kb.search(query, k=10, mode="hybrid")
    profiler.disable()
    stats = pstats.Stats(profiler)
    rows = []
    for (file, line, func), (_, ncalls, tottime, cumtime, _) in stats.stats.items():
        rows.append((tottime, cumtime, ncalls, f"{Path(file).name}:{line}({func})"))
    by_self = sorted(rows, reverse=True)[:12]
    by_cum = sorted(rows, key=lambda r: r[1], reverse=True)[:25]
    return {
        "queries": n, "chunks": kb.store.counts()["chunks"], "load_avg": load_average(),
        "torch_threads": torch.get_num_threads(),
        "ms_per_query": dict(sorted(stages.items(), key=lambda kv: -kv[1])),
        "cprofile_self_ms_per_query": [
            {"function": f, "self_ms": round(s * 1000 / n, 2), "calls_per_query": c / n}
            for s, _, c, f in by_self],
        "cprofile_cumulative_ms_per_query": [
            {"function": f, "cum_ms": round(cum * 1000 / n, 2)} for _, cum, _, f in by_cum],
        "note": "in process, no HTTP; cProfile inflates Python-heavy stages, use ms_per_query "
                "for the split and cProfile for which function dominates",
    }


# --- the sample corpus, in process ------------------------------------------------------
def sample_corpus(repeat: int) -> dict[str, Any]:
    """Every planted query over corpus/, in process: unfiltered, in its own office, grouped."""
    kb = scratch_knowledge_base()
    Ingestor(kb).run([CORPUS])
    findings = planted_findings()
    queries = ([(f["query_local"], f["europe_office"]) for f in findings]
               + [(f["query_en"], "Boston") for f in findings])
    searches: dict[str, Callable[[str, str], object]] = {
        "unfiltered": lambda query, _office: kb.search(query, k=10),
        "office_filter": lambda query, office: kb.search(query, Filters(office=[office]), 10),
        "grouped": lambda query, _office: kb.search_documents(query, k=10),
    }
    kb.search("warm up", k=10)
    timings: dict[str, list[float]] = defaultdict(list)
    for _ in range(repeat):
        for query, office in queries:
            for name, search in searches.items():
                started = time.perf_counter()
                search(query, office)
                timings[name].append((time.perf_counter() - started) * 1000)
    status = kb.status()
    return {"documents": status["documents"], "chunks": status["chunks"],
            **{name: {"n": len(ms), "ms": _stats(ms)} for name, ms in timings.items()}}


# --- the command ------------------------------------------------------------------------
def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,100000",
                        help="comma-separated chunk counts (default 5000,100000)")
    parser.add_argument("--real", type=int, default=5000,
                        help="passages embedded for real; the rest get noisy copies")
    parser.add_argument("--queries", type=int, default=200, help="measured queries per mode")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--sigma", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bridge-latency"))
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also profile N hybrid queries in process on the largest size")
    parser.add_argument("--threads", type=int, default=None,
                        help="OMP_NUM_THREADS/MKL_NUM_THREADS for the server (and the profile);"
                             " default: unset, torch uses every core")
    parser.add_argument("--sample", action="store_true",
                        help="time the planted queries over corpus/ in process instead")
    parser.add_argument("--repeat", type=int, default=5,
                        help="with --sample: rounds over the planted queries")
    parser.add_argument("--json-out", type=Path)
    return parser.parse_args()


def sample(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {
        "what": "KnowledgeBase.search / search_documents k=10 in process over corpus/ (no "
                "HTTP); each planted query unfiltered, filtered to its own office, grouped",
        "cpus": os.cpu_count(), "load_avg_start": load_average(),
        **sample_corpus(args.repeat)}
    result["load_avg_end"] = load_average()
    return result


def over_http(args: argparse.Namespace) -> dict[str, Any]:
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",")]
    args.workdir.mkdir(parents=True, exist_ok=True)
    claims = list(read_texts(SCIFACT / "queries.jsonl").values())
    result: dict[str, Any] = {
        "what": "POST /search k=10 over loopback HTTP to a real `bridge serve`; client_ms is "
                "wall time around each request (includes the query's embedding), "
                "server_took_ms the server's own took_ms",
        "data": f"real SciFact passages; the first {args.real} embedded for real, the rest "
                f"noisy copies of real vectors (sigma {args.sigma}): costs real, dense "
                "relevance beyond the real ones meaningless",
        "queries": f"SciFact claims, {args.queries} per mode, modes interleaved, "
                   f"{args.warmup} warm-up queries per mode",
        "cpus": os.cpu_count(), "server_threads": args.threads or "default (unset)",
        "load_avg_start": load_average(), "sizes": {},
    }
    for size in sizes:
        data_dir = args.workdir / f"data-{size}"
        built = build(data_dir, size, args.real, args.sigma, args.seed, args.workdir,
                      args.rebuild)
        log(f"measuring {size} chunks")
        result["sizes"][str(size)] = {"build": built,
                                      **measure(data_dir, claims, args.queries, args.warmup,
                                                args.threads)}
    largest = str(max(sizes))
    hybrid = result["sizes"][largest]["modes"]["hybrid"]["client_ms"]["p50"]
    result["goal_hybrid_p50_under_30ms_at_largest"] = {"chunks": int(largest),
                                                       "hybrid_p50_ms": hybrid,
                                                       "met": hybrid < 30}
    if args.profile:
        log(f"profiling {args.profile} hybrid queries at {largest} chunks")
        result["profile_hybrid"] = profile(args.workdir / f"data-{largest}", claims,
                                           args.profile, args.threads)
    result["load_avg_end"] = load_average()
    return result


def main() -> None:
    args = arguments()
    emit(sample(args) if args.sample else over_http(args), args.json_out)


if __name__ == "__main__":
    main()
