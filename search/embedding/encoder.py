"""The encoder: one loaded model that turns passages and queries into unit vectors."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import numpy as np

from search.embedding.models import canonical_model_id, resolve_model

log = logging.getLogger(__name__)

# e5 models were trained with these prefixes; a folder that declares its own
# prompts (config_sentence_transformers.json) keeps them.
E5_PROMPTS = {"query": "query: ", "document": "passage: "}


class Encoder:
    """A sentence-transformers model with the query/document prompts it expects."""

    def __init__(self, name: str, cache_dir: Path, batch_size: int = 32) -> None:
        from sentence_transformers import SentenceTransformer

        self.model_id = canonical_model_id(name)
        self.batch_size = batch_size
        self._model = SentenceTransformer(resolve_model(name, cache_dir), device="cpu")
        if not self._model.prompts.get("query") and "e5" in self.model_id.lower():
            self._model.prompts.update(E5_PROMPTS)
        self.dimension = int(self._model.get_embedding_dimension())
        self.max_tokens = int(self._model.max_seq_length)
        self.tokenizer = self._model.tokenizer
        # The Rust tokenizer counts without the "sequence too long" warnings.
        self._backend = self.tokenizer.backend_tokenizer

    def _encode(self, texts: list[str], prompt: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            prompt_name=prompt if self._model.prompts.get(prompt) else None,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        """Unit vectors for passages (chunks), one row per text."""
        return self._encode(texts, "document")

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Unit vectors for search queries, one row per text."""
        return self._encode(texts, "query")

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for ``text``, without special tokens or prompt."""
        return len(self._backend.encode(text, add_special_tokens=False).ids)


@lru_cache(maxsize=4)
def load_encoder(name: str, cache_dir: Path, batch_size: int = 32) -> Encoder:
    """Load a model once per process; every later call shares it."""
    log.info("loading embedding model %s", name)
    return Encoder(name, cache_dir, batch_size)
