"""The optional cross-encoder stage: re-scores the top hits with query and text together.

A cross-encoder reads the query and a chunk in one pass, which ranks better
than comparing two separate vectors but costs a model call per pair, so it
only re-orders the first ``rerank_depth`` hits. It is off unless
``reranker_path`` names a local sentence-transformers CrossEncoder folder:
none ships offline today, and a hub name would need a network.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np


class Reranker:
    def __init__(self, path: Path) -> None:
        if not path.is_dir():
            raise FileNotFoundError(f"reranker_path {path} is not a model folder")
        from sentence_transformers import CrossEncoder

        self.model = CrossEncoder(str(path), device="cpu")

    def scores(self, query: str, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0, dtype=np.float32)
        return np.asarray(self.model.predict([(query, t) for t in texts]), dtype=np.float32)


@lru_cache(maxsize=2)
def load_reranker(path: Path) -> Reranker:
    return Reranker(path)
