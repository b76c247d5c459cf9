"""Knowledge Bridge beside txtai on one BEIR set: nDCG@10, index time, query p50/p99, ratios.

    bash bench/txtai_env.sh        # once: txtai 9.14.0 in its own .venv-txtai (idempotent)
    python -m bench.txtai_side_by_side [--dataset ../shared/data/scifact_train] [--split train]
        [--limit-queries N] [--limit-docs N] [--threads 1] [--txtai-modes dense,hybrid]
        [--block 50] [--json-out FILE]

Issue 8 ("Side by side"). Both engines index the same corpus with the same model folder (the
one ``multilingual-e5-small`` resolves to), the same e5 prefixes and the same torch thread
count, and are scored on the same judged queries by the same function
(``evaluation.metrics.score_run``: ir_measures, nDCG@10 / R@100 / MRR@10, 100 results a query).

* Knowledge Bridge goes through ``evaluation``'s own steps (``load_dataset``,
  ``prepare_scratch``, ``Ingestor``, ``same_content``, ``rank_documents`` and
  ``corpus_ids``), as ``bridge eval`` does, but into a fresh temporary scratch folder, so the
  embedding cache is empty and every chunk is embedded. Index time is the ingest run (parse,
  language detection, chunking, embedding, SQLite + Tantivy + FAISS publish); modes dense and
  hybrid (the default) are scored.
* txtai runs as a subprocess in ``.venv-txtai`` (``bench/txtai_side.py``; txtai is never a
  dependency of the project), building a dense index and a hybrid (dense + BM25) one; see that
  file for its configuration and timings. It is handed the very records Bridge got (written
  to the temporary folder), then the queries, and its rankings come back to be scored here.

A full run embeds the corpus three times (Bridge, txtai dense, txtai hybrid): on SciFact
(~1.9M tokens) that is long on two shared cores. ``--limit-docs`` and ``--limit-queries`` give
a quicker, easier set (see ``limited``); ``--txtai-modes dense`` skips the second txtai index.

Model loading is outside the index time on both sides and reported apart. The indexes are
built one after the other, never together. Queries run one at a time; each side first ranks
``WARM_UP`` untimed queries of a mode, then both sides rank every query in blocks of
``--block`` that alternate between them (Bridge, txtai, txtai, Bridge, ...). This machine's
virtual cores lose a varying share of their time to other tenants (steal time), which made
the same query loop run 20-40% slower from one minute to the next; alternating blocks puts
such spells on both sides alike, and ``paired_block_p50_ratio``, the median over blocks of
Bridge's block p50 over txtai's, is the latency ratio to trust. Every timing is taken twice:
wall time, what a user waits, and CPU time (of the whole process tree for Bridge's ingest,
whose parsing may run in other processes), the work done; the load average is recorded
around each side.
Ratios are Knowledge Bridge / txtai (below 1: Bridge is faster); quality is the difference
Bridge - txtai. The figures print as one JSON object (``--json-out`` writes it too).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.common import REPO, emit, limited, load_average, log
from evaluation.beir import Dataset, load_dataset
from evaluation.harness import corpus_ids, prepare_scratch, same_content
from evaluation.metrics import DEPTH, score_run
from ingest.pipeline import Ingestor
from search.embedding.models import resolve_model
from search.knowledge_base import KnowledgeBase
from search.opening import open_knowledge_base
from search.records import SearchMode
from search.settings import Settings

TXTAI_PYTHON = REPO / ".venv-txtai" / "bin" / "python"
TXTAI_SIDE = REPO / "bench" / "txtai_side.py"
DEFAULT_DATASET = REPO.parent / "shared" / "data" / "scifact_train"
BRIDGE_MODES = (SearchMode.dense, SearchMode.hybrid)
WARM_UP = 20  # untimed queries each side ranks in a mode before its timed blocks
BLOCK = 50  # queries a side ranks in a row before the other side takes over


def latency(latencies_ms: list[float], cpu_ms: list[float]) -> dict[str, float]:
    """p50 and p99 of per-query wall latencies, and the median CPU time of a query."""
    p50, p99 = np.percentile(latencies_ms, [50, 99])
    return {"p50_ms": round(float(p50), 2), "p99_ms": round(float(p99), 2),
            "cpu_p50_ms": round(float(np.median(cpu_ms)), 2)}


def tree_cpu_seconds(pid: int | None = None) -> float:
    """CPU seconds used by a process and all its descendants, live or already reaped.

    Wall time on a shared machine swings with other jobs; CPU time barely does, so both are
    reported. ``time.process_time`` would miss Bridge's preparing processes: they are
    children of a forkserver, itself a live child, so they show up in its reaped-children
    counters (cutime, cstime) rather than in this process's. Linux /proc only.
    """
    pid = pid or os.getpid()
    proc = Path(f"/proc/{pid}")
    try:
        fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        children = [int(c) for task in (proc / "task").iterdir()
                    for c in (task / "children").read_text().split()]
    except (FileNotFoundError, ProcessLookupError):
        return 0.0  # it ended meanwhile; its parent's counters now hold it
    own = sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime..cstime
    return own + sum(tree_cpu_seconds(child) for child in children)


def run_bridge(dataset_dir: Path, dataset: Dataset, settings: Settings,
               scratch_root: Path) -> tuple[KnowledgeBase, dict[str, list[str]], dict[str, Any]]:
    """Ingest into a fresh scratch knowledge base: the knowledge base, the corpus ids of each
    file stem (``same_content``) and the index figures."""
    scratch = prepare_scratch(dataset_dir, dataset.corpus, settings, scratch_root)
    load_before = load_average()
    started = time.perf_counter()
    kb = open_knowledge_base(scratch.settings)  # loads the model (and sets torch's threads)
    model_load_s = time.perf_counter() - started
    log(f"bridge: ingesting {len(scratch.ids)} records")
    cpu_before = tree_cpu_seconds()
    report = Ingestor(kb).run([scratch.files])
    index_cpu_s = tree_cpu_seconds() - cpu_before
    log(f"bridge: index {report.seconds:.1f}s")
    kb.encoder.prepare_queries()  # as bridge eval does: queries in ONNX Runtime
    figures = {"model_id": kb.encoder.model_id, "ingest_workers": settings.ingest_workers,
               "model_load_s": round(model_load_s, 3), "index_s": report.seconds,
               "index_cpu_s": round(index_cpu_s, 1),
               "documents_indexed": len(report.added) + len(report.duplicates),
               "failed_files": len(report.failed), "chunks": kb.status()["chunks"],
               "embedded_chunks": report.chunks_embedded,
               "torch_threads": torch.get_num_threads(), "load_avg_before": load_before,
               "load_avg_after": load_average()}
    return kb, same_content(dataset.corpus, scratch.ids), figures


def bridge_block(kb: KnowledgeBase, aliases: dict[str, list[str]], mode: SearchMode,
                 queries: list[tuple[str, str]]) -> dict[str, Any]:
    """Each query ranked alone, ``kb.rank_documents`` timed as ``bridge eval`` ranks it; the
    block in the txtai side's answer format."""
    block: dict[str, Any] = {"latencies_ms": [], "cpu_ms": [], "ranked": {}}
    for query_id, text in queries:
        started, cpu = time.perf_counter(), time.process_time()
        _, documents = kb.rank_documents(text, k=DEPTH, mode=mode)
        block["latencies_ms"].append((time.perf_counter() - started) * 1000)
        block["cpu_ms"].append((time.process_time() - cpu) * 1000)
        block["ranked"][query_id] = corpus_ids(documents, aliases)
    return block


class TxtaiSide:
    """``bench/txtai_side.py`` in ``.venv-txtai``: indexes the very records Bridge got when
    started, then ranks blocks of queries on request (its JSON-lines protocol)."""

    def __init__(self, dataset: Dataset, model_dir: str, threads: int, modes: str,
                 workdir: Path) -> None:
        if not TXTAI_PYTHON.exists():
            sys.exit(f"{TXTAI_PYTHON} is missing: run `bash bench/txtai_env.sh` first")
        corpus_path = workdir / "corpus.jsonl"
        with corpus_path.open("w", encoding="utf-8") as corpus:
            for doc_id, record in dataset.corpus.items():
                corpus.write(json.dumps({"_id": doc_id, "title": record.title,
                                         "text": record.text}) + "\n")
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        self.load_before = load_average()
        self._process = subprocess.Popen(
            [str(TXTAI_PYTHON), str(TXTAI_SIDE), "--corpus", str(corpus_path), "--model",
             model_dir, "--modes", modes, "--threads", str(threads), "--depth", str(DEPTH)],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.indexed: dict[str, Any] = self._answer()
        self.modes: list[str] = list(self.indexed["modes"])

    def rank(self, mode: str, queries: list[tuple[str, str]]) -> dict[str, Any]:
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps({"mode": mode, "queries": queries}) + "\n")
        self._process.stdin.flush()
        return self._answer()

    def _answer(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            sys.exit(f"bench/txtai_side.py ended early (exit {self._process.wait()})")
        return json.loads(line)

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait()


@dataclass
class Timings:
    """One engine's queries in one mode, gathered block by block."""

    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    ranked: dict[str, list[str]] = field(default_factory=dict)
    block_p50_ms: list[float] = field(default_factory=list)

    def add(self, block: dict[str, Any]) -> None:
        self.wall_ms += block["latencies_ms"]
        self.cpu_ms += block["cpu_ms"]
        self.ranked.update(block["ranked"])
        self.block_p50_ms.append(float(np.median(block["latencies_ms"])))

    def figures(self, qrels: dict[str, dict[str, int]]) -> dict[str, Any]:
        quality = score_run(qrels, self.ranked)
        return {**{name: round(value, 4) for name, value in quality.items()},
                **latency(self.wall_ms, self.cpu_ms), "queries": len(self.ranked)}


Ranker = Callable[[list[tuple[str, str]]], dict[str, Any]]


def interleaved(sides: dict[str, Ranker], queries: list[tuple[str, str]],
                block: int) -> dict[str, Timings]:
    """Every query on every side, in blocks that alternate between the sides (ABBA...), after
    ``WARM_UP`` untimed queries each: slow spells of a shared machine fall on both sides."""
    for rank in sides.values():
        rank(queries[:WARM_UP])
    timings = {name: Timings() for name in sides}
    for n, start in enumerate(range(0, len(queries), block)):
        order = list(sides) if n % 2 == 0 else list(reversed(sides))
        for name in order:
            timings[name].add(sides[name](queries[start:start + block]))
    return timings


def run_queries(kb: KnowledgeBase, aliases: dict[str, list[str]], txtai: TxtaiSide,
                dataset: Dataset, block: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both engines' figures per mode. Each Bridge mode alternates with txtai's index of the
    same mode, or runs alone when txtai did not build it."""
    queries = list(dataset.queries.items())
    bridge: dict[str, Any] = {}
    theirs: dict[str, Any] = {}
    for mode in BRIDGE_MODES:
        sides: dict[str, Ranker] = {
            "bridge": lambda batch, mode=mode: bridge_block(kb, aliases, mode, batch)}
        if mode.value in txtai.modes:
            sides["txtai"] = lambda batch, mode=mode: txtai.rank(mode.value, batch)
        log(f"ranking {len(queries)} queries, {mode.value}: {' / '.join(sides)}")
        timings = interleaved(sides, queries, block)
        bridge[mode.value] = timings["bridge"].figures(dataset.qrels)
        if "txtai" in timings:
            paired = np.median(np.divide(timings["bridge"].block_p50_ms,
                                         timings["txtai"].block_p50_ms))
            bridge[mode.value]["paired_block_p50_ratio"] = round(float(paired), 3)
            theirs[mode.value] = {**txtai.indexed["modes"][mode.value],
                                  **timings["txtai"].figures(dataset.qrels)}
    return bridge, theirs


def compare(bridge: dict[str, Any], bridge_mode: str, txtai: dict[str, Any],
            txtai_mode: str) -> dict[str, Any]:
    """One pairing: quality difference, Bridge/txtai ratios, and whether issue 8's goal holds.

    Latency counts as no worse when the paired ratio (the median over interleaved blocks of
    Bridge's block p50 over txtai's) and the p99 ratio are at most 1; a pairing of two
    different modes was not interleaved, so its p50 ratio stands in for the paired one.
    """
    ours, theirs = bridge[bridge_mode], txtai[txtai_mode]
    ratios = {"index_time_ratio": bridge["index_s"] / theirs["index_s"],
              "index_cpu_ratio": bridge["index_cpu_s"] / theirs["index_cpu_s"],
              "p50_ratio": ours["p50_ms"] / theirs["p50_ms"],
              "paired_block_p50_ratio": (ours["paired_block_p50_ratio"]
                                         if bridge_mode == txtai_mode else None),
              "p99_ratio": ours["p99_ms"] / theirs["p99_ms"],
              "query_cpu_p50_ratio": ours["cpu_p50_ms"] / theirs["cpu_p50_ms"]}
    p50 = ratios["paired_block_p50_ratio"] or ratios["p50_ratio"]
    diff = ours["ndcg_at_10"] - theirs["ndcg_at_10"]
    return {"bridge": bridge_mode, "txtai": txtai_mode, "ndcg_at_10_diff": round(diff, 4),
            **{name: value if value is None else round(value, 3)
               for name, value in ratios.items()},
            "goal_met": {"better_quality": diff > 0,
                         "index_time_no_worse": ratios["index_time_ratio"] <= 1,
                         "index_cpu_no_worse": ratios["index_cpu_ratio"] <= 1,
                         "latency_no_worse": max(p50, ratios["p99_ratio"]) <= 1,
                         "query_cpu_no_worse": ratios["query_cpu_p50_ratio"] <= 1}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="BEIR folder")
    parser.add_argument("--split", default="train", help="qrels/<split>.tsv (default train)")
    parser.add_argument("--limit-queries", type=int, metavar="N",
                        help="score only the first N judged queries (a quick run)")
    parser.add_argument("--limit-docs", type=int, metavar="N",
                        help="index only the judged documents plus others up to N in all "
                             "(a quick run on an easier set)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch (and FAISS/OpenMP) threads on both sides (default 1)")
    parser.add_argument("--txtai-modes", default="dense,hybrid",
                        help="txtai indexes to build: dense, hybrid or both (each embeds anew)")
    parser.add_argument("--block", type=int, default=BLOCK,
                        help=f"queries a side ranks before the other takes over (default {BLOCK})")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    settings = Settings(torch_threads=args.threads)
    full = load_dataset(args.dataset, args.split)
    dataset = limited(full, args.limit_queries, args.limit_docs)
    model_dir = resolve_model(settings.model, settings.cache_dir)
    with tempfile.TemporaryDirectory(prefix="bridge-vs-txtai-") as tmp:
        workdir = Path(tmp)
        kb, aliases, bridge = run_bridge(args.dataset, dataset, settings, workdir)
        side = TxtaiSide(dataset, model_dir, args.threads, args.txtai_modes, workdir)
        try:
            txtai = {key: value for key, value in side.indexed.items() if key != "modes"}
            txtai["load_avg_before"] = side.load_before
            modes, txtai_modes = run_queries(kb, aliases, side, dataset, args.block)
        finally:
            side.close()
    bridge.update(modes)
    txtai.update({"load_avg_after": load_average(), **txtai_modes})
    pairs = [(b, t) for b, t in (("dense", "dense"), ("hybrid", "hybrid"), ("hybrid", "dense"))
             if t in txtai]
    emit({
        "what": "Knowledge Bridge vs txtai on one BEIR set, same model folder, same e5 prefixes,"
                " same threads, same queries and scoring (ir_measures via "
                "evaluation.metrics.score_run); index time excludes model loading; latency is per "
                "query, sequential, after a warm-up, in blocks alternating between the two "
                "engines; ratios are Bridge/txtai, diffs Bridge-txtai",
        "dataset": dataset.name, "split": args.split,
        "documents": len(dataset.corpus), "documents_in_set": len(full.corpus),
        "queries": len(dataset.queries), "queries_in_set": len(full.queries),
        "model": settings.model, "model_dir": model_dir,
        "threads": {"torch_and_omp": args.threads, "cpus": os.cpu_count()},
        "bridge": bridge, "txtai": txtai,
        "comparison": [compare(bridge, b, txtai, t) for b, t in pairs],
    }, args.json_out)


if __name__ == "__main__":
    main()
