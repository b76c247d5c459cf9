"""Passage batches grouped by token count (``Encoder.encode_documents``) against
sentence-transformers' own grouping by characters, on the same chunks and the same model.

    python -m bench.passage_batching [FOLDER] [--threads 1] [--group 512] [--chunks N]
        [--dataset ../shared/data/scifact_train --split train --limit-docs 1000] [--json-out F]

The chunks are those an ingest of FOLDER (default: corpus/), or of a BEIR set's corpus with
``--dataset``, would embed. They are embedded in groups of ``--group`` (an ingest's embedding
group) by both ways, the two alternating group by group (so a slow spell of a shared machine
falls on both). Prints each way's seconds and padding (the share of the tokens the model ran
that were padding), the time ratio and the largest difference between the two vectors of a
chunk.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

from bench.common import CORPUS, chunk_texts, emit, limited, scratch_knowledge_base
from search.embedding.models import resolve_model


class Padding:
    """Counts, from each batch the model runs, the tokens it ran and the real ones."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.ran = self.real = 0
        model.register_forward_pre_hook(self._count)

    def _count(self, _module: torch.nn.Module, args: tuple) -> None:
        mask = args[0]["attention_mask"]
        self.ran += mask.numel()
        self.real += int(mask.sum())

    @property
    def share(self) -> float:
        return round(1 - self.real / self.ran, 4)


def folder_of(args: argparse.Namespace, scratch: Path) -> Path:
    """FOLDER, or a BEIR corpus written out as the files ``bridge eval`` ingests."""
    if not args.dataset:
        return args.folder
    from evaluation.beir import load_dataset
    from evaluation.harness import SCRATCH_FILES, write_corpus_files

    dataset = limited(load_dataset(args.dataset, args.split), None, args.limit_docs)
    write_corpus_files(dataset.corpus, scratch)
    return scratch / SCRATCH_FILES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=CORPUS)
    parser.add_argument("--dataset", type=Path, help="a BEIR folder instead of FOLDER")
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit-docs", type=int, help="every judged document, then others")
    parser.add_argument("--chunks", type=int, help="embed only the first N chunks")
    parser.add_argument("--group", type=int, default=512, help="chunks embedded in one call")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    kb = scratch_knowledge_base()
    with tempfile.TemporaryDirectory() as scratch:
        texts = chunk_texts(kb, folder_of(args, Path(scratch)))[:args.chunks]
    by_tokens = kb.encoder
    by_characters = SentenceTransformer(resolve_model(kb.settings.model, kb.settings.cache_dir))
    ways: dict[str, Callable[[list[str]], np.ndarray]] = {
        "by_tokens": by_tokens.encode_documents,
        "by_characters": lambda group: by_characters.encode(
            group, prompt_name="document", batch_size=by_tokens.batch_size,
            normalize_embeddings=True),
    }
    for way in ways.values():
        way(texts[:8])  # warm-up, before the padding is counted
    padding = {"by_tokens": Padding(by_tokens._model), "by_characters": Padding(by_characters)}
    seconds = dict.fromkeys(ways, 0.0)
    difference = 0.0
    for n, start in enumerate(range(0, len(texts), args.group)):
        group = texts[start:start + args.group]
        vectors = {}
        for name in list(ways) if n % 2 == 0 else list(reversed(ways)):
            started = time.perf_counter()
            vectors[name] = ways[name](group)
            seconds[name] += time.perf_counter() - started
        difference = max(difference, float(np.abs(vectors["by_tokens"]
                                                  - vectors["by_characters"]).max()))
    emit({"what": "passages embedded in groups, batched by tokens vs by characters",
          "source": str(args.dataset or args.folder), "chunks": len(texts),
          "group": args.group, "batch": by_tokens.batch_size, "threads": args.threads,
          **{name: {"seconds": round(s, 1), "chunks_per_s": round(len(texts) / s, 2),
                    "padding_share": padding[name].share} for name, s in seconds.items()},
          "time_ratio_by_tokens_over_by_characters": round(
              seconds["by_tokens"] / seconds["by_characters"], 3),
          "max_abs_difference": difference}, args.json_out)


if __name__ == "__main__":
    main()
