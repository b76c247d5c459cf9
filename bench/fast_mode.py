"""The fast mode's speed-up and quality cost: int8 against float32 encoders on the dev sets.

    python -m bench.fast_mode [DATASET ...] [--passages 120] [--repeats 5] [--threads N]
                              [--json-out FILE]

DATASET is a BEIR folder (default: xquad_en-es_paragraph and tatoeba_eng-fra from
../shared/data); its split is the one qrels file it holds unless ``--split`` names another.
For each dataset:

* speed: both encoders embed the same first ``--passages`` corpus passages with the same
  torch threads, after a warm-up, ``--repeats`` times, the two precisions alternating (and
  swapping which goes first) so background load falls on both alike; passages/s is the
  median of the repeats, and the ratio int8/float32 is the speed-up;
* quality: ``bridge eval`` in dense mode (``evaluation.harness.evaluate``: the real ingest into a
  scratch index per precision, every judged query) gives nDCG@10, MRR@10 and Recall@100
  for each precision, and their differences;
* agreement: the mean and smallest cosine between the two precisions' vectors of the same
  passages (as documents) and of the first ``--passages`` queries (as queries).

Prints one JSON object (``--json-out`` also writes it) with the load average before and after,
since other jobs may share the cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Any, get_args

import numpy as np
import torch

from bench.common import REPO, emit, encoder, load_average, log
from evaluation.beir import load_dataset
from evaluation.harness import evaluate
from search.embedding import Encoder
from search.embedding.models import Precision
from search.records import SearchMode
from search.settings import Settings

DEV_SETS = ("xquad_en-es_paragraph", "tatoeba_eng-fra")
PRECISIONS: tuple[Precision, ...] = get_args(Precision)  # float32 first: the baseline


def only_split(dataset_dir: Path) -> str:
    """The split of a dataset with one qrels file (each dev set has exactly one)."""
    splits = sorted(path.stem for path in (dataset_dir / "qrels").glob("*.tsv"))
    if len(splits) != 1:
        raise SystemExit(f"{dataset_dir}: choose --split among {splits}")
    return splits[0]


def throughput(encoders: dict[Precision, Encoder], texts: list[str],
               repeats: int) -> dict[str, Any]:
    """Passages/s of each encoder on ``texts``, interleaved repeats after one warm-up each."""
    for model in encoders.values():
        model.encode_documents(texts[:8])
    runs: dict[Precision, list[float]] = {p: [] for p in encoders}
    for repeat in range(repeats):
        order = list(encoders) if repeat % 2 == 0 else list(reversed(encoders))
        for precision in order:
            started = time.perf_counter()
            encoders[precision].encode_documents(texts)
            runs[precision].append(len(texts) / (time.perf_counter() - started))
    median = {p: statistics.median(values) for p, values in runs.items()}
    return {
        "passages": len(texts), "repeats": repeats,
        **{f"{p}_passages_per_s": round(median[p], 2) for p in encoders},
        "ratio_int8_to_float32": round(median["int8"] / median["float32"], 3),
        "runs_passages_per_s": {p: [round(v, 2) for v in values] for p, values in runs.items()},
    }


def agreement(encoders: dict[Precision, Encoder], passages: list[str],
              queries: list[str]) -> dict[str, float]:
    """Cosine between the two precisions' unit vectors of the same texts."""
    full, fast = encoders["float32"], encoders["int8"]
    result: dict[str, float] = {}
    for kind, texts, encode in (("documents", passages, "encode_documents"),
                                ("queries", queries, "encode_queries")):
        cosines = (getattr(full, encode)(texts) * getattr(fast, encode)(texts)).sum(axis=1)
        result[f"{kind}_mean"] = round(float(cosines.mean()), 4)
        result[f"{kind}_min"] = round(float(cosines.min()), 4)
    return result


def quality(dataset_dir: Path, split: str, settings: Settings) -> dict[str, Any]:
    """Dense-mode eval figures of each precision and the int8 change of each metric."""
    figures: dict[str, dict[str, float]] = {}
    for precision in PRECISIONS:
        log(f"{dataset_dir.name}: eval {precision}")
        report = evaluate(dataset_dir, split, [SearchMode.dense],
                          settings.model_copy(update={"encoder_precision": precision}))
        dense = report.results[0]
        figures[precision] = {"ndcg_at_10": round(dense.ndcg_at_10, 4),
                              "mrr_at_10": round(dense.mrr_at_10, 4),
                              "recall_at_100": round(dense.recall_at_100, 4),
                              "query_p50_ms": round(dense.p50_ms, 1),
                              "queries": dense.queries, "chunks": report.chunks}
    change = {f"{metric}_change": round(figures["int8"][metric] - figures["float32"][metric], 4)
              for metric in ("ndcg_at_10", "mrr_at_10", "recall_at_100")}
    return {**figures, **change}


def measure(dataset_dir: Path, split: str, settings: Settings,
            encoders: dict[Precision, Encoder], args: argparse.Namespace) -> dict[str, Any]:
    dataset = load_dataset(dataset_dir, split)
    passages = [record.text for record in dataset.corpus.values()][:args.passages]
    queries = list(dataset.queries.values())[:args.passages]
    tokens = [encoders["float32"].count_tokens(text) for text in passages]
    log(f"{dataset.name}: timing {len(passages)} passages x {args.repeats} per precision")
    return {
        "dataset": dataset.name, "split": split, "documents": len(dataset.corpus),
        "mean_tokens_per_passage": round(float(np.mean(tokens)), 1),
        "throughput": throughput(encoders, passages, args.repeats),
        "cosine_float32_int8": agreement(encoders, passages, queries),
        "dense_eval": quality(dataset_dir, split, settings),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", type=Path,
                        default=[REPO.parent / "shared" / "data" / name for name in DEV_SETS])
    parser.add_argument("--split", help="qrels split (default: the dataset's only one)")
    parser.add_argument("--passages", type=int, default=120,
                        help="corpus passages timed per repeat (and compared by cosine)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    started = time.perf_counter()
    settings = Settings(**({"torch_threads": args.threads} if args.threads else {}))
    if args.threads:
        torch.set_num_threads(args.threads)
    load_start = load_average()
    encoders = {p: encoder(settings.model_copy(update={"encoder_precision": p}))
                for p in PRECISIONS}
    result: dict[str, Any] = {
        "what": "int8 (dynamic quantisation of the encoder's linear layers) against float32: "
                "raw encode passages/s, dense-mode eval quality, cosine between their vectors",
        "model": settings.model, "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(), "cpus": os.cpu_count(),
        "quantized_engine": torch.backends.quantized.engine, "load_avg_start": load_start,
        "datasets": [measure(d, args.split or only_split(d), settings, encoders, args)
                     for d in args.datasets],
    }
    result["load_avg_end"] = load_average()
    result["run_s"] = round(time.perf_counter() - started, 1)
    emit(result, args.json_out)


if __name__ == "__main__":
    main()
