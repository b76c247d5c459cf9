"""Token counts as the model sees them, whatever state its tokenizer was last left in."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
