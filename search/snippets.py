"""Snippets: the passage of a chunk worth showing for a query."""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def snippet(text: str, query: str, max_chars: int) -> str:
    """The window of whole sentences sharing most words with ``query``.

    Dense hits often share no word with the query (another language), so the
    window then simply starts at the chunk's beginning.
    """
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return text
    terms = {w.lower() for w in _WORD.findall(query) if len(w) > 2}
    sentences = _SENTENCE_END.split(text)
    starts, pos = [], 0
    for sentence in sentences:
        starts.append(text.index(sentence, pos))
        pos = starts[-1] + len(sentence)
    best = max(
        range(len(sentences)),
        key=lambda i: (len(terms & {w.lower() for w in _WORD.findall(sentences[i])}), -i),
    )
    window = text[starts[best] : starts[best] + max_chars]
    if starts[best] + max_chars < len(text):
        window = window.rsplit(" ", 1)[0] + " …"
    return ("… " if best else "") + window
