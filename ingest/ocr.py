"""OCR: the text of scanned pages and pictures, read by Tesseract (through pytesseract).

Startups export their decks as images, offices scan their reports: without OCR those files
are invisible to search. Tesseract is the engine users already trust, installed from the
system's packages (Debian: ``tesseract-ocr`` and ``tesseract-ocr-<lang>``; the Makefile does
it). Where it is missing, a file that needs it fails with "needs OCR: install
tesseract-ocr" instead of being indexed without its text.

Tesseract reads anything as text, photos too, so a paragraph it is not confident about
(mean word confidence under ``MIN_CONFIDENCE``) is dropped: a logo or a photograph gives
nothing rather than a line of noise.
"""

from __future__ import annotations

import io
import logging
import os
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import pytesseract
from PIL import Image, ImageOps

from ingest.document import OcrWork, ParseError
from search.settings import Settings

log = logging.getLogger(__name__)

# Tesseract's OpenMP threads spin against each other and against the encoder's: a page
# reads several times faster on one thread (docs/ocr.md). pytesseract starts Tesseract with
# the environment it holds in ``environ``; a copy with one OpenMP thread limits Tesseract
# alone, never this process's own OpenMP (torch, FAISS).
pytesseract.pytesseract.environ = {**os.environ, "OMP_THREAD_LIMIT": "1"}

OcrMode = Literal["auto", "off", "force"]
NEEDS_OCR = "needs OCR"

# A word confidence (0-100) under which a paragraph is taken for noise.
MIN_CONFIDENCE = 55
# Pictures smaller than this (pixels, either side) are icons and bullets: not read.
MIN_SIDE = 48
# Images are read at most this large (pixels in all); larger ones are scaled down, which
# also bounds what a decompression bomb can cost.
MAX_PIXELS = 40_000_000
# A picture narrower than this is scaled up before reading: Tesseract wants letters at
# least ~20 pixels high, and slide pictures are often small.
UPSCALE_BELOW = 1200


@dataclass(frozen=True)
class OcrOptions:
    """How files without a text layer are read (settings ``ocr``, ``ocr_languages``,
    ``ocr_dpi``, ``ocr_page_timeout_s``, ``ocr_min_chars``).

    ``mode``: ``auto`` reads pages and pictures with no (or almost no) text layer, ``force``
    reads every page and picture, ``off`` reads none.
    """

    mode: OcrMode
    languages: tuple[str, ...]
    dpi: int
    page_timeout_s: float
    min_chars: int

    @classmethod
    def from_settings(cls, settings: Settings) -> OcrOptions:
        return cls(settings.ocr, tuple(settings.ocr_languages), settings.ocr_dpi,
                   settings.ocr_page_timeout_s, settings.ocr_min_chars)

    def reader(self) -> OcrReader:
        """A reader for one file: it counts what it reads."""
        return OcrReader(self)


DEFAULT_OCR = OcrOptions.from_settings(Settings.model_construct())  # the defaults


@dataclass
class OcrReader:
    """Reads the images of one file, and keeps count (``work``) for the run's report.

    Reading never raises: where OCR is off or Tesseract is missing, an image reads as ""
    and :attr:`unavailable` says why, for the parser to report if the file ends up with
    no text at all.
    """

    options: OcrOptions
    work: OcrWork = field(default_factory=OcrWork)
    unavailable: ParseError | None = None
    cache: dict[str, str] = field(default_factory=dict)

    def wanted(self, text_layer: str) -> bool:
        """Whether a page (or slide) whose text layer is ``text_layer`` is read by OCR."""
        return (self.options.mode == "force"
                or readable_chars(text_layer) < self.options.min_chars)

    def available(self) -> bool:
        """Whether OCR can run here (else ``unavailable`` says why)."""
        return bool(self._languages())

    def read(self, image: Image.Image) -> str:
        """The text in ``image``; "" when it holds none Tesseract is confident about."""
        languages = self._languages()
        if not languages:
            return ""
        started = time.perf_counter()
        try:
            data = pytesseract.image_to_data(
                _prepared(image), lang="+".join(languages), config="--psm 3",
                timeout=self.options.page_timeout_s, output_type=pytesseract.Output.DICT)
        except RuntimeError as exc:  # pytesseract's time limit, and Tesseract's own errors
            log.warning("OCR gave up on an image: %s", exc)
            return ""
        finally:
            self.work.images += 1
            self.work.seconds += time.perf_counter() - started
        return _confident_text(data)

    def read_picture(self, blob: bytes, key: str) -> str:
        """The text of an encoded picture (PNG, JPEG...), read once per ``key`` in a file
        (a logo on every slide costs one read). Unreadable, tiny or absurdly large pictures
        give ""."""
        if key not in self.cache:
            image = _decoded(blob) if self._languages() else None
            self.cache[key] = self.read(image) if image is not None else ""
        return self.cache[key]

    def _languages(self) -> tuple[str, ...]:
        """The languages to read with; () where OCR cannot run (and why, in ``unavailable``)."""
        if self.options.mode == "off":
            self.unavailable = ParseError(NEEDS_OCR, "OCR is off (setting ocr)")
            return ()
        installed = installed_languages()
        if installed is None:
            self.unavailable = ParseError(NEEDS_OCR, "install tesseract-ocr")
            return ()
        languages = tuple(lang for lang in self.options.languages if lang in installed)
        if not languages:
            wanted = " ".join(f"tesseract-ocr-{lang}" for lang in self.options.languages)
            self.unavailable = ParseError(NEEDS_OCR, f"install {wanted}")
        return languages


@lru_cache(maxsize=1)
def installed_languages() -> frozenset[str] | None:
    """Tesseract's installed languages; None when Tesseract is not on this machine."""
    try:
        return frozenset(pytesseract.get_languages(config=""))
    except (pytesseract.TesseractNotFoundError, OSError, RuntimeError):
        return None


def readable_chars(text: str) -> int:
    """Letters and digits in ``text``: a page number or a stray glyph is not a text layer."""
    return sum(char.isalnum() for char in text)


def _decoded(blob: bytes) -> Image.Image | None:
    """A picture decoded, or None when it is unreadable, an icon, or too large to decode
    safely (a JPEG is decoded straight to a smaller size where it can be)."""
    try:
        image = Image.open(io.BytesIO(blob))
        if min(image.size) < MIN_SIDE:
            return None
        if image.size[0] * image.size[1] > MAX_PIXELS:
            image.draft("L", (image.size[0] // 4, image.size[1] // 4))
        if image.size[0] * image.size[1] > 2 * MAX_PIXELS:
            log.info("picture of %dx%d pixels not read", *image.size)
            return None
        image.load()
    except Exception as exc:  # Pillow raises many kinds of errors on damaged pictures
        log.info("picture not read: %s", exc)
        return None
    return image


def _prepared(image: Image.Image) -> Image.Image:
    """Grey, on white (a transparent PNG's background is black to Tesseract), and sized for
    reading: small pictures scaled up, huge ones down."""
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, "white")
        image = Image.alpha_composite(background, image)
    image = ImageOps.exif_transpose(image).convert("L")
    width, height = image.size
    if width * height > MAX_PIXELS:
        scale = (MAX_PIXELS / (width * height)) ** 0.5
        image = image.resize((int(width * scale), int(height * scale)))
    elif width < UPSCALE_BELOW:
        factor = min(3, UPSCALE_BELOW // max(width, 1) + 1)
        image = image.resize((width * factor, height * factor), Image.Resampling.LANCZOS)
    return image


def _confident_text(data: dict[str, list]) -> str:
    """Tesseract's words as lines and paragraphs, without paragraphs it is unsure of."""
    paragraphs: dict[tuple[int, int], list[tuple[int, str, float]]] = {}
    for i, word in enumerate(data["text"]):
        confidence = float(data["conf"][i])
        if confidence < 0 or not word.strip():
            continue
        key = (data["block_num"][i], data["par_num"][i])
        paragraphs.setdefault(key, []).append((data["line_num"][i], word, confidence))
    kept = []
    for words in paragraphs.values():
        # Tesseract scores 0 the halves of a word it splits ("HomeBeat" -> "Home" "Beat"):
        # those say nothing about how sure it is.
        scored = [c for _, _, c in words if c > 0]
        if scored and sum(scored) / len(scored) < MIN_CONFIDENCE:
            continue
        lines: dict[int, list[str]] = {}
        for line, word, _ in words:
            lines.setdefault(line, []).append(word)
        kept.append("\n".join(" ".join(ws) for ws in lines.values()))
    return "\n\n".join(kept)
