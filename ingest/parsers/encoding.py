"""Bytes to text for the plain-text formats (txt, markdown, subtitles).

Files in the wild come as UTF-8, as UTF-16 exported by Windows tools, or in a legacy
single-byte code page; guessing wrong silently corrupts every accented letter, so the order
of the checks matters: explicit BOMs, then strict UTF-8, then a statistical guess.
"""

from __future__ import annotations

import codecs

import charset_normalizer

# UTF-32 LE's BOM begins with UTF-16 LE's (FF FE), so the UTF-32 ones must be tried first.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# For short Western texts several code pages decode to equally plausible text; Windows-1252
# is by far the most common of them, so it wins a tie.
_PREFERRED_LEGACY = "cp1252"


def decode_bytes(data: bytes) -> str:
    """Decode file content to text with ``\\n`` newlines and no BOM."""
    return _decode(data).replace("\r\n", "\n").replace("\r", "\n")


def bom_encoding(data: bytes) -> tuple[str, int] | None:
    """The encoding a byte order mark at the start of ``data`` names, with the mark's
    length; None without one."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding, len(bom)
    return None


def _decode(data: bytes) -> str:
    marked = bom_encoding(data)
    if marked is not None:
        encoding, start = marked
        return data[start:].decode(encoding, errors="replace")
    # UTF-16 without a BOM is often valid UTF-8 (ASCII plus NUL bytes): leave it to the guess.
    if b"\x00" not in data:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return _guess_legacy(data)


def _guess_legacy(data: bytes) -> str:
    matches = charset_normalizer.from_bytes(data)
    best = matches.best()
    if best is None:
        return data.decode(_PREFERRED_LEGACY, errors="replace")
    tied = (m for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence))
    chosen = next((m for m in tied if m.encoding == _PREFERRED_LEGACY), best)
    return str(chosen)
