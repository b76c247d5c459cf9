"""Opaque ids: a keyed permutation of stored numbers, per kind, that decodes only its own."""

from __future__ import annotations

import re

from search.public_ids import CHUNK, DOCUMENT, IdCodec


def test_tokens_round_trip_per_kind_and_reveal_no_order() -> None:
    codec = IdCodec(b"\x01" * 32)
    tokens = [codec.encode(DOCUMENT, n) for n in range(1, 200)]
    assert all(re.fullmatch(r"d[a-z2-9]{10}", t) for t in tokens)
    assert [codec.decode(DOCUMENT, t) for t in tokens] == list(range(1, 200))
    assert len(set(tokens)) == len(tokens) and tokens != sorted(tokens)
    assert codec.decode(CHUNK, tokens[0]) is None  # a document's token names no chunk
    chunk = codec.encode(CHUNK, 1)
    assert chunk.startswith("c") and codec.decode(CHUNK, chunk) == 1
    assert IdCodec(b"\x02" * 32).encode(DOCUMENT, 1) != tokens[0]  # another database's key
    for garbage in ("", "d", "1", "d" + "l" * 10, "d" + "a" * 11, tokens[0].upper(), "x" * 99):
        assert codec.decode(DOCUMENT, garbage) is None
