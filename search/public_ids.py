"""Ids as clients see them: opaque tokens, so that an id says nothing of how many exist.

Documents and chunks are numbered in the database in the order they arrive; shown as they
are, a key limited to one office would learn from its own new upload's id roughly how many
documents every office holds. Each id is therefore shown as a token made by a keyed
permutation of its number (a four-round Feistel network over 48 bits, HMAC-SHA256 rounds,
keyed by a random secret kept in the database): "d" or "c" (document or chunk) and ten
characters of base 32. A token decodes to its number with the same secret; anything else
(a guessed number, a token of the other kind, garbage) decodes to nothing, which the API
answers as the same 404 as a missing id.

The API sets :data:`PUBLIC_IDS` for each request; records serialise their ids through it
(``search.records``). Where none is set (the operator's command line, the knowledge base's
own code) ids stay numbers.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from contextvars import ContextVar

from search.path_names import AS_STORED
from search.sql import get_meta

_HALF = 24  # bits in each half of the 48-bit block
_MASK = (1 << _HALF) - 1
_ROUNDS = 4
_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # base 32 without look-alikes (l, o, 0, 1)
_DIGITS = 10  # 48 bits in base 32
DOCUMENT, CHUNK = "d", "c"
_SECRET_META = "public_id_secret"


class IdCodec:
    """Numbers to tokens and back, for one secret."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def encode(self, kind: str, number: int) -> str:
        left, right = number >> _HALF, number & _MASK
        for round_ in range(_ROUNDS):
            left, right = right, left ^ self._round(kind, round_, right)
        value = (left << _HALF) | right
        digits = []
        for _ in range(_DIGITS):
            value, digit = divmod(value, len(_ALPHABET))
            digits.append(_ALPHABET[digit])
        return kind + "".join(reversed(digits))

    def decode(self, kind: str, token: str) -> int | None:
        """The number behind ``token``; None for anything that is not a token of ``kind``."""
        if len(token) != _DIGITS + 1 or not token.startswith(kind):
            return None
        value = 0
        for char in token[1:]:
            digit = _ALPHABET.find(char)
            if digit < 0:
                return None
            value = value * len(_ALPHABET) + digit
        if value >> (2 * _HALF):
            return None
        left, right = value >> _HALF, value & _MASK
        for round_ in reversed(range(_ROUNDS)):
            left, right = right ^ self._round(kind, round_, left), left
        return (left << _HALF) | right

    def _round(self, kind: str, round_: int, half: int) -> int:
        digest = hmac.new(self._secret, f"{kind}:{round_}:{half}".encode(), hashlib.sha256)
        return int.from_bytes(digest.digest()[:3], "big")


def database_codec(db: sqlite3.Connection) -> IdCodec:
    """The codec keyed by this database's own secret, made at first use."""
    secret = get_meta(db, _SECRET_META)
    if secret is None:
        made = secrets.token_hex(32)
        db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)", (_SECRET_META, made))
        secret = get_meta(db, _SECRET_META) or made
    return IdCodec(bytes.fromhex(secret))


PUBLIC_IDS: ContextVar[IdCodec | None] = ContextVar("public_ids", default=None)


def shown_id(kind: str, number: int | None, context: object = None) -> int | str | None:
    """``number`` as this request's reader sees it (see the module's docstring)."""
    codec = PUBLIC_IDS.get()
    if codec is None or number is None or context == AS_STORED:
        return number
    return codec.encode(kind, number)


def stored_id(kind: str, given: str | int) -> int | None:
    """The number a reader's id stands for: a token under a request, a number elsewhere;
    None for an id that names nothing."""
    codec = PUBLIC_IDS.get()
    if codec is not None:
        return codec.decode(kind, given) if isinstance(given, str) else None
    text = str(given)
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None
