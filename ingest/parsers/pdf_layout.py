"""What a PDF's text layer does not say: a page as pixels, and its ruled tables.

pypdf reads the text layer (``ingest.parsers.pdf``). A scanned page has none, so it is
rendered with PDFium (pypdfium2) for OCR. A table's text layer is a stream of words in which
rows and columns are lost, so pages that draw ruling lines are read again by pdfplumber,
which finds the tables and keeps them row by row (``a | b | c``). Both open the file only
when a page needs them: most PDFs never pay for either.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pdfplumber
import pypdfium2 as pdfium
from PIL import Image

from ingest.ocr import MAX_PIXELS
from ingest.parsers.common import render_table

log = logging.getLogger(__name__)

# A ruled table draws thin horizontal and vertical lines (at least this many of each, its
# borders included): pages without them are not worth pdfplumber's slow look.
_TABLE_MIN_RULES = 3
_THIN = 2.5  # points: thicker is a shape, not a rule
_RULE_MIN_LENGTH = 10.0
# A gap wider than this share of the font size is a space: pdfplumber's fixed default (3
# points) glues the words of small or tightly set text together.
_SPACE_RATIO = 0.15
_POINTS_PER_INCH = 72


class PdfLayout:
    """One PDF's pages through PDFium and pdfplumber, each opened on first use."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._pdfium: pdfium.PdfDocument | None = None
        self._plumber: pdfplumber.PDF | None = None

    def render(self, index: int, dpi: int) -> Image.Image | None:
        """Page ``index`` as a picture at ``dpi`` (less for a huge page); None when PDFium
        cannot draw it."""
        try:
            page = self._document()[index]
            width, height = page.get_size()
            scale = dpi / _POINTS_PER_INCH
            pixels = width * height * scale * scale
            if pixels > MAX_PIXELS:
                scale *= (MAX_PIXELS / pixels) ** 0.5
            return page.render(scale=scale, grayscale=True).to_pil()
        except Exception as exc:  # PDFium's errors on damaged pages
            log.info("page %d of %s not rendered: %s", index + 1, self._path.name, exc)
            return None

    def text_with_tables(self, index: int) -> str | None:
        """Page ``index``'s text with its ruled tables row by row, in reading order; None
        where the page draws no table (or pdfplumber cannot read it): the text layer as
        pypdf reads it is then as good."""
        try:
            if not self._may_hold_table(index):
                return None
            page = self._pdfplumber().pages[index]
            tables = [(table, rows) for table in page.find_tables()
                      if _is_grid(rows := table.extract())]
            if not tables:
                return None
            return _interleaved(page, sorted(tables, key=lambda found: found[0].bbox[1]))
        except Exception as exc:  # pdfminer's errors on damaged pages
            log.info("tables of page %d of %s not read: %s", index + 1, self._path.name, exc)
            return None

    def close(self) -> None:
        if self._pdfium is not None:
            self._pdfium.close()
        if self._plumber is not None:
            self._plumber.close()

    def _document(self) -> pdfium.PdfDocument:
        if self._pdfium is None:
            self._pdfium = pdfium.PdfDocument(self._path)
        return self._pdfium

    def _pdfplumber(self) -> pdfplumber.PDF:
        if self._plumber is None:
            self._plumber = pdfplumber.open(self._path, password="")
        return self._plumber

    def _may_hold_table(self, index: int) -> bool:
        """Whether the page draws the ruling lines of a table (cheap, in PDFium)."""
        across = down = 0
        for item in self._document()[index].get_objects(max_depth=2):
            if item.type != pdfium.raw.FPDF_PAGEOBJ_PATH:
                continue
            left, bottom, right, top = item.get_bounds()
            across += top - bottom < _THIN and right - left > _RULE_MIN_LENGTH
            down += right - left < _THIN and top - bottom > _RULE_MIN_LENGTH
            if across >= _TABLE_MIN_RULES and down >= _TABLE_MIN_RULES:
                return True
        return False


def _is_grid(rows: list[list[str | None]]) -> bool:
    """Whether pdfplumber's table is one: two rows at least with two filled cells each (a
    boxed figure or a framed paragraph is found as a table of one cell)."""
    return sum(sum(bool(cell and cell.strip()) for cell in row) >= 2 for row in rows) >= 2


def _interleaved(page: pdfplumber.page.Page, tables: list[tuple[Any, list]]) -> str:
    """The text outside the tables, band by band from the top, each table's rows after the
    text beside or above it."""
    outside = page.filter(lambda obj: not any(_inside(obj, t.bbox) for t, _ in tables))
    left, top, right, bottom = page.bbox
    parts = []
    for table, rows in tables:
        table_bottom = table.bbox[3]
        parts.append(_band_text(outside, (left, top, right, table_bottom)))
        parts.append(render_table([cell or "" for cell in row] for row in rows))
        top = max(top, table_bottom)
    parts.append(_band_text(outside, (left, top, right, bottom)))
    return "\n".join(part for part in parts if part)


def _band_text(page: pdfplumber.page.Page, band: tuple[float, float, float, float]) -> str:
    if band[3] <= band[1]:
        return ""
    return page.crop(band, strict=False).extract_text(x_tolerance_ratio=_SPACE_RATIO) or ""


def _inside(obj: dict, bbox: tuple[float, float, float, float]) -> bool:
    """Whether a character (or other object) sits within a table's box."""
    if "x0" not in obj or "top" not in obj:
        return False
    x0, top, x1, bottom = bbox
    middle_x = (obj["x0"] + obj["x1"]) / 2
    middle_y = (obj["top"] + obj["bottom"]) / 2
    return x0 <= middle_x <= x1 and top <= middle_y <= bottom
