"""Token counts as the model sees them, whatever state its tokenizer was last left in."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokenizers import Tokenizer


def plain_tokenizer(backend: Tokenizer) -> Tokenizer:
    """A copy of the Rust ``backend`` that neither pads nor truncates.

    A transformers tokenizer sets padding and truncation on its backend at every call and
    leaves them there, so after sentence-transformers has encoded one batch, the shared
    backend pads every text of an ``encode_batch`` to the longest (all counts equal) and
    stops counting at the model's limit. Counting on a copy keeps the counts true.
    """
    from tokenizers import Tokenizer

    copy = Tokenizer.from_str(backend.to_str())
    copy.no_padding()
    copy.no_truncation()
    return copy
