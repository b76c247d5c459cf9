"""PowerPoint (PPTX): one unit per slide, with python-pptx.

A slide's text is spread over its title, text boxes, tables, grouped shapes and the speaker
notes; decks often carry their real content in the notes, so those are kept too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from pptx import Presentation
from pptx.enum.shapes import PP_PLACEHOLDER
from pptx.shapes.base import BaseShape
from pptx.shapes.group import GroupShape
from pptx.slide import Slide
from pptx.table import Table

from ingest.document import ParsedDocument, Provenance, Unit
from ingest.parsers.common import one_line, render_table, require_units, tidy
from ingest.parsers.limits import ParseLimits
from ingest.parsers.office import check_package, core_metadata, open_package

# Fields Office fills in on every slide ("12/16/2016", "4"): they say nothing about it.
_BOILERPLATE = frozenset({PP_PLACEHOLDER.DATE, PP_PLACEHOLDER.SLIDE_NUMBER})


def parse(path: Path) -> ParsedDocument:
    """Slides without any text are skipped; slide numbers keep their position in the deck."""
    presentation = open_package(path, Presentation, "PPTX")
    units = []
    for number, slide in enumerate(presentation.slides, start=1):
        title, text = _slide_text(slide)
        if text:
            units.append(Unit(text=text, provenance=Provenance(slide=number, section=title)))
    return ParsedDocument(
        units=require_units(units), file_metadata=core_metadata(presentation.core_properties)
    )


def check_limits(path: Path, limits: ParseLimits) -> None:
    """Refuse a zip bomb posing as a PPTX before python-pptx reads it."""
    check_package(path, limits, "PPTX")


def _slide_text(slide: Slide) -> tuple[str | None, str]:
    """The slide's title (as a one-line label, or None) and its whole text, title first."""
    title_shape = slide.shapes.title
    title = tidy(title_shape.text_frame.text) if title_shape is not None else ""
    skip = title_shape.shape_id if title_shape is not None else None
    parts = [title, *_shape_texts(slide.shapes, skip)]
    if slide.has_notes_slide:
        notes_frame = slide.notes_slide.notes_text_frame
        notes = tidy(notes_frame.text) if notes_frame is not None else ""
        if notes:
            parts.append(f"Notes: {notes}")
    text = tidy("\n".join(part for part in parts if part))
    return (one_line(title) or None), text


def _shape_texts(shapes: Iterable[BaseShape], skip: int | None) -> Iterator[str]:
    """Text of every shape in document order, descending into groups."""
    for shape in shapes:
        if shape.shape_id == skip or _is_boilerplate(shape):
            continue
        if isinstance(shape, GroupShape):
            yield from _shape_texts(shape.shapes, skip)
        elif shape.has_text_frame:
            yield tidy(shape.text_frame.text)
        elif shape.has_table:
            yield _table_text(shape.table)


def _is_boilerplate(shape: BaseShape) -> bool:
    return shape.is_placeholder and shape.placeholder_format.type in _BOILERPLATE


def _table_text(table: Table) -> str:
    # A merged cell's text sits in its origin cell; the cells it spans over are empty copies.
    return render_table(
        (cell.text for cell in row.cells if not cell.is_spanned) for row in table.rows
    )
