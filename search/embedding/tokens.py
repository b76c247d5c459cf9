"""Tokens as the model sees them: true counts for chunking, whatever state the model's
tokenizer was last left in, and a query's tokens for the query graph without the model."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer


class PlainTokens:
    """Counts tokens (without special tokens or prompt) on a copy of the Rust ``backend``
    that neither pads nor truncates.

    A transformers tokenizer sets padding and truncation on its backend at every call and
    leaves them there, so after sentence-transformers has encoded one batch, the shared
    backend pads every text of an ``encode_batch`` to the longest (all counts equal) and
    stops counting at the model's limit. Counting on a copy keeps the counts true.
    """

    def __init__(self, backend: Tokenizer) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_str(backend.to_str())
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()

    @classmethod
    def of_model(cls, model: str | Path) -> PlainTokens:
        """The counter of a model folder or hub id, without loading its weights: from the
        folder's ``tokenizer.json`` (no torch import), else via transformers."""
        saved = Path(model) / "tokenizer.json"
        if saved.is_file():
            from tokenizers import Tokenizer

            return cls(Tokenizer.from_file(str(saved)))
        from transformers import AutoTokenizer

        return cls(AutoTokenizer.from_pretrained(str(model)).backend_tokenizer)

    def count(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def counts(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self._tokenizer.encode_batch(texts, add_special_tokens=False)]


@dataclass(frozen=True)
class QueryTokenizing:
    """How the model's own preprocessing tokenises a query, read off the loaded model once
    and saved beside its query graph, so that a process which only embeds queries can
    tokenise them as the model would without loading torch or the weights."""

    inputs: tuple[str, ...]
    max_length: int
    prompt: str
    lowercase: bool
    pad_id: int
    pad_token: str

    @classmethod
    def of_model(cls, model: SentenceTransformer, inputs: list[str]) -> QueryTokenizing:
        return cls(tuple(inputs), int(model.max_seq_length), model.prompts.get("query", ""),
                   bool(getattr(model[0], "do_lower_case", False)),
                   int(model.tokenizer.pad_token_id), str(model.tokenizer.pad_token))

    def save(self, path: Path) -> None:
        """Written whole or not at all: a reader never meets half a file."""
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as out:
            json.dump(asdict(self), out)
        os.chmod(tmp, 0o644)  # as the graph: readable by a server run as another user
        os.replace(tmp, path)

    @classmethod
    def read(cls, path: Path) -> QueryTokenizing | None:
        """The saved facts, or None when there are none (or they cannot be read)."""
        try:
            fields = json.loads(path.read_text())
            return cls(**{**fields, "inputs": tuple(fields["inputs"])})
        except (OSError, ValueError, TypeError, KeyError):
            return None


class QueryTokens:
    """Queries tokenised by the model folder's Rust tokenizer (``tokenizer.json``) as the
    model's preprocessing tokenises them: prompt, special tokens, truncation, padding to the
    longest of a batch (``tests/test_model_conversion.py`` compares the two)."""

    def __init__(self, backend: Tokenizer, tokenizing: QueryTokenizing) -> None:
        self._tokenizer = backend
        self._tokenizer.enable_truncation(tokenizing.max_length)
        self._tokenizer.enable_padding(pad_id=tokenizing.pad_id, pad_token=tokenizing.pad_token)
        self._how = tokenizing

    @classmethod
    def of_folder(cls, model_dir: Path, tokenizing: QueryTokenizing) -> QueryTokens | None:
        """From the folder's ``tokenizer.json``; None for a folder without one."""
        saved = model_dir / "tokenizer.json"
        if not saved.is_file():
            return None
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_file(str(saved)), tokenizing)

    def features(self, texts: list[str]) -> dict[str, np.ndarray]:
        """The graph's inputs for ``texts``, by name, as int64 arrays."""
        how = self._how
        prompted = [how.prompt + (text.lower() if how.lowercase else text) for text in texts]
        encodings = self._tokenizer.encode_batch(prompted)
        arrays = {"input_ids": [e.ids for e in encodings],
                  "attention_mask": [e.attention_mask for e in encodings],
                  "token_type_ids": [e.type_ids for e in encodings]}
        return {name: np.asarray(arrays[name], dtype=np.int64) for name in how.inputs}
