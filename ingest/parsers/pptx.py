"""PowerPoint (PPTX): one unit per slide, with python-pptx.

A slide's text is spread over its title, text boxes, tables, grouped shapes, charts and the
speaker notes; decks often carry their real content in the notes, so those are kept too.
Decks exported as pictures (one image per slide) are common among startups: pictures are
read by OCR (``ingest.ocr``) and the slide's provenance says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from pptx import Presentation
from pptx.enum.shapes import PP_PLACEHOLDER
from pptx.shapes.base import BaseShape
from pptx.shapes.group import GroupShape
from pptx.shapes.picture import Picture
from pptx.slide import Slide
from pptx.table import Table

from ingest.cleaning import tidy
from ingest.document import ParsedDocument, Provenance, Unit
from ingest.ocr import OcrReader
from ingest.parsers.charts import chart_text
from ingest.parsers.common import one_line, render_table, require_units
from ingest.parsers.limits import ParseLimits
from ingest.parsers.office import check_package, core_metadata, open_package

# Fields Office fills in on every slide ("12/16/2016", "4"): they say nothing about it.
_BOILERPLATE = frozenset({PP_PLACEHOLDER.DATE, PP_PLACEHOLDER.SLIDE_NUMBER})
# The prompts of empty placeholders, left as text in decks built by copying a master.
_PROMPT = re.compile(
    r"^(click to (edit|add)\b|cliquez pour (modifier|ajouter)\b|klicken sie, um\b|"
    r"(titel|text)masterformat(e)? durch klicken bearbeiten|haga clic (para|aquí para) "
    r"(modificar|agregar)\b|(second|third|fourth|fifth) level$)", re.IGNORECASE)


def parse(path: Path, ocr: OcrReader) -> ParsedDocument:
    """Slides without any text are skipped; slide numbers keep their position in the deck."""
    presentation = open_package(path, Presentation, "PPTX")
    units = []
    for number, slide in enumerate(presentation.slides, start=1):
        unit = _slide_unit(slide, number, ocr)
        if unit.text:
            units.append(unit)
    return ParsedDocument(
        units=require_units(units, ocr.unavailable),
        file_metadata=core_metadata(presentation.core_properties),
        heading=_heading(units),
    )


def check_limits(path: Path, limits: ParseLimits) -> None:
    """Refuse a zip bomb posing as a PPTX before python-pptx reads it."""
    check_package(path, limits, "PPTX")


def _slide_unit(slide: Slide, number: int, ocr: OcrReader) -> Unit:
    """The slide's whole text, title first, then shapes in order, pictures read by OCR,
    then the notes."""
    title_shape = slide.shapes.title
    title = _text(title_shape.text_frame.text) if title_shape is not None else ""
    skip = title_shape.shape_id if title_shape is not None else None
    parts = [title, *_shape_texts(slide.shapes, skip)]
    read = [_picture_text(picture, ocr) for picture in _pictures(slide.shapes)]
    parts.extend(read)
    if slide.has_notes_slide:
        notes_frame = slide.notes_slide.notes_text_frame
        notes = tidy(notes_frame.text) if notes_frame is not None else ""
        if notes:
            parts.append(f"Notes: {notes}")
    provenance = Provenance(slide=number, section=one_line(title) or None,
                            ocr=True if any(read) else None)
    return Unit(text=tidy("\n".join(part for part in parts if part)), provenance=provenance)


def _shape_texts(shapes: Iterable[BaseShape], skip: int | None) -> Iterator[str]:
    """Text of every shape in document order, descending into groups."""
    for shape in shapes:
        if shape.shape_id == skip or _is_boilerplate(shape):
            continue
        if isinstance(shape, GroupShape):
            yield from _shape_texts(shape.shapes, skip)
        elif shape.has_text_frame:
            yield _text(shape.text_frame.text)
        elif getattr(shape, "has_table", False) and shape.has_table:
            yield _table_text(shape.table)
        elif getattr(shape, "has_chart", False) and shape.has_chart:
            yield chart_text(shape.chart_part.blob)


def _pictures(shapes: Iterable[BaseShape]) -> Iterator[Picture]:
    """Every picture on the slide, in groups too."""
    for shape in shapes:
        if isinstance(shape, GroupShape):
            yield from _pictures(shape.shapes)
        elif isinstance(shape, Picture):
            yield shape


def _picture_text(picture: Picture, ocr: OcrReader) -> str:
    try:
        image = picture.image
    except (KeyError, ValueError, AttributeError):  # a linked picture, or a broken link
        return ""
    return ocr.read_picture(image.blob, image.sha1)


def _text(text: str) -> str:
    """A text frame's text without placeholder prompts ("Click to edit Master title style")."""
    return tidy("\n".join(line for line in text.split("\n") if not _PROMPT.match(line.strip())))


def _is_boilerplate(shape: BaseShape) -> bool:
    return shape.is_placeholder and shape.placeholder_format.type in _BOILERPLATE


def _table_text(table: Table) -> str:
    # A merged cell's text sits in its origin cell; the cells it spans over are empty copies.
    return render_table(
        (cell.text for cell in row.cells if not cell.is_spanned) for row in table.rows
    )


def _heading(units: list[Unit]) -> str | None:
    """The first slide's title: what the deck calls itself."""
    return units[0].provenance.section if units else None
