"""Builders of small test documents, shared by parser and end-to-end tests.

Tests make their own files rather than checking binaries into the repository, so each test
says exactly what its input contains.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import docx
import pptx
from docx.enum.section import WD_SECTION
from PIL import Image, ImageDraw, ImageFont
from pptx.chart.data import CategoryChartData
from pptx.enum.chart import XL_CHART_TYPE
from pptx.util import Inches
from pypdf import PdfReader, PdfWriter
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

# Bytes an encrypted Office file starts with: the OLE compound file signature.
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# The creation date written into Office files, so tests can check it comes back.
FIXED_DATE = datetime(2023, 5, 17, 9, 30, tzinfo=UTC)


def make_pdf(
    path: Path,
    pages: list[str],
    password: str | None = None,
    *,
    owner_password: str | None = None,
    title: str | None = None,
    author: str | None = None,
    created: datetime | None = None,
) -> Path:
    """A PDF with one page per string ("" makes a page without text).

    ``password`` is the user password needed to open it; ``owner_password`` alone encrypts it
    with an empty user password, the way "copy-protected" PDFs are.
    """
    buffer = io.BytesIO()
    canvas = Canvas(buffer)
    for text in pages:
        for number, line in enumerate(text.splitlines()):
            canvas.drawString(72, 770 - 16 * number, line)
        canvas.showPage()
    canvas.save()
    writer = PdfWriter(clone_from=PdfReader(buffer))
    info = {"/Title": title, "/Author": author}
    if created is not None:
        info["/CreationDate"] = created.strftime("D:%Y%m%d%H%M%S")
    writer.add_metadata({key: value for key, value in info.items() if value})
    if password is not None or owner_password is not None:
        writer.encrypt(
            user_password=password or "",
            owner_password=owner_password or password,
            algorithm="AES-128",
        )
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def text_image(text: str, width: int = 1400, font_size: int = 44) -> Image.Image:
    """A picture of ``text``, black on white, as a scan or a slide exported as an image."""
    font = ImageFont.load_default(size=font_size)
    lines = text.splitlines()
    step = int(font_size * 1.5)
    image = Image.new("RGB", (width, 2 * step + step * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((step, step + step * i), line, font=font, fill="black")
    return image


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def scanned_pdf(path: Path, pages: list[str]) -> Path:
    """A PDF whose pages are pictures of text with no text layer: a scan."""
    canvas = Canvas(str(path))
    for text in pages:
        image = text_image(text)
        width = 500
        height = width * image.height / image.width
        canvas.drawImage(ImageReader(image), 50, 780 - height, width=width, height=height)
        canvas.showPage()
    canvas.save()
    return path


@dataclass
class ChartSpec:
    title: str
    categories: list[str]
    series: dict[str, list[float]]
    axis_titles: tuple[str, str] | None = None


@dataclass
class SlideSpec:
    """One slide: an optional title, body paragraphs, a table, grouped text boxes, notes, a
    picture of some text (a slide exported as an image) and a chart."""

    title: str | None = None
    body: list[str] = field(default_factory=list)
    table: list[list[str]] | None = None
    group: list[str] = field(default_factory=list)
    notes: str | None = None
    picture: str | None = None
    chart: ChartSpec | None = None


def make_pptx(
    path: Path, slides: list[SlideSpec], *, title: str | None = None, author: str | None = None
) -> Path:
    presentation = pptx.Presentation()
    title_only = presentation.slide_layouts[5]
    blank = presentation.slide_layouts[6]
    for spec in slides:
        slide = presentation.slides.add_slide(title_only if spec.title else blank)
        if spec.title:
            slide.shapes.title.text = spec.title
        if spec.body:
            box = slide.shapes.add_textbox(Inches(1), Inches(2), Inches(8), Inches(1))
            box.text_frame.text = "\n".join(spec.body)
        if spec.table:
            rows, cols = len(spec.table), len(spec.table[0])
            shape = slide.shapes.add_table(rows, cols, Inches(1), Inches(3), Inches(8), Inches(2))
            for r, row in enumerate(spec.table):
                for c, value in enumerate(row):
                    shape.table.cell(r, c).text = value
        if spec.group:
            group = slide.shapes.add_group_shape()
            for i, text in enumerate(spec.group):
                box = group.shapes.add_textbox(Inches(1 + 2 * i), Inches(5), Inches(2), Inches(1))
                box.text_frame.text = text
        if spec.notes:
            slide.notes_slide.notes_text_frame.text = spec.notes
        if spec.picture:
            slide.shapes.add_picture(io.BytesIO(png(text_image(spec.picture))), Inches(0.5),
                                     Inches(1.5), width=Inches(9))
        if spec.chart:
            _add_chart(slide, spec.chart)
    presentation.core_properties.title = title or ""
    presentation.core_properties.author = author or ""
    presentation.core_properties.created = FIXED_DATE
    presentation.save(str(path))
    return path


def _add_chart(slide: pptx.slide.Slide, spec: ChartSpec) -> None:
    data = CategoryChartData()
    data.categories = spec.categories
    for name, values in spec.series.items():
        data.add_series(name, values)
    chart = slide.shapes.add_chart(XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(1), Inches(1),
                                   Inches(8), Inches(5), data).chart
    chart.has_title = True
    chart.chart_title.text_frame.text = spec.title
    if spec.axis_titles:
        for axis, title in zip((chart.category_axis, chart.value_axis), spec.axis_titles,
                               strict=True):
            axis.has_title = True
            axis.axis_title.text_frame.text = title


@dataclass
class Heading:
    text: str
    level: int = 1


@dataclass
class Table:
    rows: list[list[str]]


@dataclass
class Picture:
    text: str  # what the picture shows


Block = str | Heading | Table | Picture  # a plain string is a body paragraph


def make_docx(
    path: Path,
    blocks: list[Block],
    *,
    header: str | None = None,
    footer: str | None = None,
    new_section_before: int | None = None,
    title: str | None = None,
    author: str | None = None,
) -> Path:
    """A DOCX of ``blocks`` in order; ``new_section_before`` starts a second section (which
    inherits the header and footer) before the block with that index."""
    document = docx.Document()
    for index, block in enumerate(blocks):
        if index == new_section_before:
            document.add_section(WD_SECTION.NEW_PAGE)
        if isinstance(block, Heading):
            document.add_heading(block.text, level=block.level)
        elif isinstance(block, Table):
            table = document.add_table(rows=len(block.rows), cols=len(block.rows[0]))
            for r, row in enumerate(block.rows):
                for c, value in enumerate(row):
                    table.cell(r, c).text = value
        elif isinstance(block, Picture):
            document.add_picture(io.BytesIO(png(text_image(block.text))), width=Inches(6))
        else:
            document.add_paragraph(block)
    if header:
        document.sections[0].header.paragraphs[0].text = header
    if footer:
        document.sections[0].footer.paragraphs[0].text = footer
    document.core_properties.title = title or ""
    document.core_properties.author = author or ""
    document.core_properties.created = FIXED_DATE
    document.save(str(path))
    return path


def zip_bomb_docx(path: Path, inflated_bytes: int = 520_000_000) -> Path:
    """A DOCX-shaped package whose body part inflates to ``inflated_bytes`` of zeros.

    Deflate packs zeros about 1000:1, so the default (past the 500 MB limit) is
    about half a megabyte on disk and a few seconds to write.
    """
    block = b"\x00" * (1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns='
                         '"http://schemas.openxmlformats.org/package/2006/content-types"/>')
        with package.open("word/document.xml", "w", force_zip64=True) as part:
            for _ in range(inflated_bytes // len(block)):
                part.write(block)
    return path


def many_pages_pdf(path: Path, pages: int, fanout: int = 1000) -> Path:
    """A valid PDF of ``pages`` pages, all the same blank page, small on disk.

    The page tree is two levels deep (``fanout`` pages per node) so that no
    array grows past what PDF readers accept.
    """
    nodes = -(-pages // fanout)
    first_node = 4
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               (f"<< /Type /Pages /Kids [{' '.join(f'{first_node + i} 0 R' for i in range(nodes))}]"
                f" /Count {pages} >>").encode(),
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>"]
    for i in range(nodes):
        count = min(fanout, pages - i * fanout)
        objects.append(f"<< /Type /Pages /Parent 2 0 R /Kids [{' '.join(['3 0 R'] * count)}]"
                       f" /Count {count} >>".encode())
    return _raw_pdf(path, objects)


def lone_surrogate_pdf(path: Path, text: str) -> Path:
    """A one-page PDF whose font maps "~" to a lone UTF-16 surrogate half (U+D800), as
    broken ToUnicode maps in the wild do: pypdf extracts ``text`` with "~" as a surrogate."""
    cmap = (b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
            b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            b"/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n"
            b"1 begincodespacerange <00> <FF> endcodespacerange\n"
            b"1 beginbfchar <7E> <D800> endbfchar\n"
            b"endcmap CMapName currentdict /CIDInit defineresource pop end end")
    content = f"BT /F1 12 Tf 72 700 Td ({text}) Tj ET".encode("latin-1")
    return _raw_pdf(path, [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        _stream(content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding"
        b" /ToUnicode 6 0 R >>",
        _stream(cmap),
    ])


def _stream(data: bytes) -> bytes:
    return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def _raw_pdf(path: Path, objects: list[bytes]) -> Path:
    """A PDF of ``objects`` (numbered from 1, the first the catalog) with its xref table."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
            .encode())
    path.write_bytes(bytes(out))
    return path
