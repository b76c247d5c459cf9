"""Word (DOCX): sections under headings, with python-docx.

The body is walked in document order, paragraphs and tables interleaved, because a table
read out of place loses the heading that explains it; a chart's words and a picture's text
(read by OCR: scanned pages pasted into Word are common) join the section they sit in.
Headers and footers repeat on every page and in every section, so each distinct one is kept
once, after the body.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from docx import Document
from docx.document import Document as DocxDocument
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml.ns import qn
from docx.oxml.parser import parse_xml
from docx.section import Section, _BaseHeaderFooter
from docx.table import Table, _Row
from docx.text.paragraph import Paragraph
from lxml import etree

from ingest.cleaning import tidy
from ingest.document import ParsedDocument, Provenance, Unit
from ingest.ocr import OcrReader
from ingest.parsers.charts import chart_text
from ingest.parsers.common import one_line, render_table, require_units
from ingest.parsers.limits import ParseLimits
from ingest.parsers.office import check_package, core_metadata, open_package

_HEADING_STYLES = ("Heading", "Title")
# Where a body holds pictures and charts, and the attribute naming the part each one is in.
_VML_IMAGE = "{urn:schemas-microsoft-com:vml}imagedata"  # pictures of older Word versions
_EMBEDDED = {qn("a:blip"): qn("r:embed"), _VML_IMAGE: qn("r:id"), qn("c:chart"): qn("r:id")}
# python-docx has no API for notes: (relationship, element, section label) to read them raw.
_NOTES = ((RT.FOOTNOTES, "w:footnote", "Footnotes"), (RT.ENDNOTES, "w:endnote", "Endnotes"))


def parse(path: Path, ocr: OcrReader) -> ParsedDocument:
    document = open_package(path, Document, "DOCX")
    body = _body_units(document, ocr)
    units = body + _margin_units(document.sections) + _note_units(document)
    return ParsedDocument(
        units=require_units(units, ocr.unavailable),
        file_metadata=core_metadata(document.core_properties),
        heading=next((u.provenance.section for u in body if u.provenance.section), None),
    )


def check_limits(path: Path, limits: ParseLimits) -> None:
    """Refuse a zip bomb posing as a DOCX before python-docx reads it."""
    check_package(path, limits, "DOCX")


def _body_units(document: DocxDocument, ocr: OcrReader) -> list[Unit]:
    """A new unit at each heading; text before the first heading is a unit of its own."""
    units: list[Unit] = []
    section: str | None = None
    parts: list[str] = []
    read = False

    def flush() -> None:
        text = tidy("\n".join(parts))
        if text:
            units.append(Unit(text=text, provenance=Provenance(section=section,
                                                               ocr=read or None)))

    for block in document.iter_inner_content():
        text = _block_text(block)
        if text and isinstance(block, Paragraph) and _is_heading(block):
            flush()
            section, parts, read = one_line(text), [], False
        parts.append(text)
        charts, pictures = _embedded_texts(document, block, ocr)
        parts.extend(charts + pictures)
        read = read or any(pictures)
    flush()
    return units


def _embedded_texts(document: DocxDocument, block: Paragraph | Table,
                    ocr: OcrReader) -> tuple[list[str], list[str]]:
    """The words of the charts in ``block``, and the text of its pictures (by OCR)."""
    charts, pictures = [], []
    for element in block._element.iter(*_EMBEDDED):
        part = document.part.related_parts.get(element.get(_EMBEDDED[element.tag]))
        if part is None:  # a linked (external) picture, or a dangling reference
            continue
        if element.tag == qn("c:chart"):
            charts.append(chart_text(part.blob))
        else:
            pictures.append(ocr.read_picture(part.blob, part.partname))
    return charts, pictures


def _margin_units(sections: Iterable[Section]) -> list[Unit]:
    """One unit per distinct header text, then per distinct footer text."""
    units: list[Unit] = []
    for label in ("Header", "Footer"):
        seen: set[str] = set()
        for section in sections:
            for part in _margins(section, label):
                if part.is_linked_to_previous:  # no definition of its own: shown already
                    continue
                text = tidy("\n".join(_block_text(b) for b in part.iter_inner_content()))
                if text and text not in seen:
                    seen.add(text)
                    units.append(Unit(text=text, provenance=Provenance(section=label)))
    return units


def _margins(section: Section, label: str) -> tuple[_BaseHeaderFooter, ...]:
    """The default, first-page and even-page variants of a section's header or footer."""
    if label == "Header":
        return section.header, section.first_page_header, section.even_page_header
    return section.footer, section.first_page_footer, section.even_page_footer


def _note_units(document: DocxDocument) -> list[Unit]:
    """All footnotes in one unit, all endnotes in another, one note per line."""
    units = []
    for reltype, tag, label in _NOTES:
        for rel in document.part.rels.values():
            if rel.reltype != reltype or rel.is_external:
                continue
            notes = parse_xml(rel.target_part.blob).iterchildren(qn(tag))
            # Separator "notes" (w:type set) only draw the line above the notes.
            texts = (_note_text(note) for note in notes if note.get(qn("w:type")) is None)
            text = tidy("\n".join(texts))
            if text:
                units.append(Unit(text=text, provenance=Provenance(section=label)))
    return units


def _note_text(note: etree._Element) -> str:
    paragraphs = note.iterchildren(qn("w:p"))
    return one_line(" ".join("".join(t.text or "" for t in p.iter(qn("w:t"))) for p in paragraphs))


def _block_text(block: Paragraph | Table) -> str:
    if isinstance(block, Table):
        return render_table(_row_cells(row) for row in block.rows)
    return tidy(block.text)


def _row_cells(row: _Row) -> list[str]:
    """Cell texts, nested tables included (``cell.text`` would drop them)."""
    cells, previous = [], None
    for cell in row.cells:
        # python-docx repeats a horizontally merged cell once per grid column it spans.
        if cell._tc is not previous:
            cells.append(" ".join(_block_text(block) for block in cell.iter_inner_content()))
        previous = cell._tc
    return cells


def _is_heading(paragraph: Paragraph) -> bool:
    style = paragraph.style
    name = (style.name if style is not None else None) or ""
    return name.startswith(_HEADING_STYLES)
