"""Regenerate the binary documents of the sample corpus from their readable sources.

Every ``corpus/_sources/<office>/*.yaml`` file describes one binary document (a PPTX
or PDF pitch deck, a DOCX or PDF report) and names where it goes with ``output``
(a path relative to ``corpus/``). Run from anywhere::

    python corpus/build.py            # rebuild everything
    python corpus/build.py --check    # rebuild into a temp dir, compare with committed files

Output is deterministic: fixed core-property dates, normalised ZIP entry times for
Office files, and ReportLab's ``invariant`` mode for PDFs, so two runs give the same
bytes. PDF text must fit the standard fonts' WinAnsi (cp1252) encoding; the script
refuses characters outside it instead of printing black boxes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import filecmp
import io
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import yaml
from docx import Document
from docx.shared import Pt
from pptx import Presentation
from pptx.util import Inches
from pptx.util import Pt as PptPt
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import (
    KeepTogether,
    ListFlowable,
    ListItem,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.flowables import HRFlowable

CORPUS = Path(__file__).resolve().parent
SOURCES = CORPUS / "_sources"
ZIP_DATE = (2024, 1, 1, 0, 0, 0)
DECK_PAGE = (25.4 * cm, 14.29 * cm)  # 16:9 landscape page for PDF decks
BRAND = colors.HexColor("#1F4E79")
LIGHT = colors.HexColor("#DCE6F2")


# --------------------------------------------------------------------------- helpers


def as_datetime(value: Any) -> dt.datetime:
    """Source dates are YAML dates (or ISO strings); Office wants a datetime."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, 9, 0, 0)
    return dt.datetime.fromisoformat(str(value))


def check_winansi(src: dict[str, Any], path: Path) -> None:
    """Fail early on characters the standard PDF fonts cannot draw."""
    text = yaml.safe_dump(src, allow_unicode=True)
    bad = sorted({ch for ch in text if ch not in "\n" and not _encodable(ch)})
    if bad:
        raise SystemExit(f"{path}: characters outside cp1252 for PDF: {bad!r}")


def _encodable(ch: str) -> bool:
    try:
        ch.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def esc(text: str) -> str:
    """Escape text for ReportLab's mini-markup, keeping **bold** spans."""
    text = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    parts = text.split("**")
    return "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))


def plain(text: str) -> str:
    return str(text).replace("**", "")


def normalize_zip(path: Path) -> None:
    """Rewrite an OOXML package with fixed entry dates and attributes."""
    with zipfile.ZipFile(path) as zin:
        entries = [(info.filename, zin.read(info.filename)) for info in zin.infolist()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0
            info.external_attr = 0
            zout.writestr(info, data)
    path.write_bytes(buf.getvalue())


def set_core(props: Any, src: dict[str, Any]) -> None:
    when = as_datetime(src["date"])
    props.title = src["title"]
    props.author = src["author"]
    props.subject = src.get("subject", "")
    props.keywords = src.get("keywords", "")
    props.language = src.get("language", "")
    props.category = src.get("doc_type", "")
    props.comments = src.get("comments", "")
    props.last_modified_by = src["author"]
    props.revision = 1
    props.created = when
    props.modified = when


# --------------------------------------------------------------------------- PPTX


def build_pptx(src: dict[str, Any], out: Path) -> None:
    prs = Presentation()
    title_layout, content_layout, title_only = (prs.slide_layouts[i] for i in (0, 1, 5))
    for number, spec in enumerate(src["slides"], start=1):
        if number == 1:
            slide = prs.slides.add_slide(title_layout)
            slide.shapes.title.text = spec["title"]
            slide.placeholders[1].text = spec.get("subtitle", "")
        elif "table" in spec:
            slide = prs.slides.add_slide(title_only)
            slide.shapes.title.text = spec["title"]
            top = Inches(1.6)
            bullets = spec.get("bullets", [])
            if bullets:
                box = slide.shapes.add_textbox(Inches(0.5), top, Inches(9), Inches(1.2))
                frame = box.text_frame
                frame.word_wrap = True
                for i, line in enumerate(bullets):
                    para = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
                    para.text = "\u2022 " + plain(line)
                    para.font.size = PptPt(16)
                lines = sum(-(-len(plain(b)) // 85) for b in bullets)
                top = Inches(1.6 + 0.34 * lines + 0.25)
            add_pptx_table(slide, spec["table"], top)
        else:
            slide = prs.slides.add_slide(content_layout)
            slide.shapes.title.text = spec["title"]
            frame = slide.placeholders[1].text_frame
            bullets = spec.get("bullets", [])
            size = body_font_size(bullets)
            for i, line in enumerate(bullets):
                para = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
                level = 0
                if isinstance(line, dict):  # {sub: "..."} is an indented bullet
                    line, level = line["sub"], 1
                para.text = plain(line)
                para.level = level
                para.font.size = PptPt(size if level == 0 else size - 2)
        if spec.get("notes"):
            slide.notes_slide.notes_text_frame.text = spec["notes"].strip()
    set_core(prs.core_properties, src)
    prs.save(out)
    normalize_zip(out)


def body_font_size(bullets: list[Any]) -> int:
    """Shrink body text for wordy slides so it stays inside the placeholder."""
    chars = sum(len(plain(b["sub"] if isinstance(b, dict) else b)) for b in bullets)
    return 20 if chars < 260 else 18 if chars < 380 else 16


def add_pptx_table(slide: Any, table: dict[str, Any], top: int) -> None:
    rows = [table["columns"], *table["rows"]]
    n_rows, n_cols = len(rows), len(table["columns"])
    height = Inches(0.4) * n_rows
    shape = slide.shapes.add_table(n_rows, n_cols, Inches(0.5), top, Inches(9), height)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            cell = shape.table.cell(r, c)
            cell.text = str(value)
            for para in cell.text_frame.paragraphs:
                para.font.size = PptPt(14 if r == 0 else 13)


# --------------------------------------------------------------------------- DOCX


def build_docx(src: dict[str, Any], out: Path) -> None:
    doc = Document()
    doc.styles["Normal"].font.name = "Calibri"
    doc.styles["Normal"].font.size = Pt(11)
    doc.add_heading(src["title"], level=0)
    byline = doc.add_paragraph()
    byline.add_run(src.get("byline", f"{src['author']} \u2014 {src['date']}")).italic = True
    for section in src["sections"]:
        if section.get("heading"):
            doc.add_heading(section["heading"], level=section.get("level", 1))
        for text in section.get("paragraphs", []):
            add_docx_runs(doc.add_paragraph(), text)
        for text in section.get("bullets", []):
            add_docx_runs(doc.add_paragraph(style="List Bullet"), text)
        if "table" in section:
            add_docx_table(doc, section["table"])
        for text in section.get("after", []):
            add_docx_runs(doc.add_paragraph(), text)
    set_core(doc.core_properties, src)
    doc.save(out)
    normalize_zip(out)


def add_docx_runs(para: Any, text: str) -> None:
    for i, part in enumerate(str(text).split("**")):
        if part:
            para.add_run(part).bold = bool(i % 2)


def add_docx_table(doc: Any, table: dict[str, Any]) -> None:
    if table.get("caption"):
        doc.add_paragraph(table["caption"], style="Caption")
    grid = doc.add_table(rows=1, cols=len(table["columns"]))
    grid.style = "Light Grid Accent 1"
    for cell, value in zip(grid.rows[0].cells, table["columns"], strict=False):
        cell.text = str(value)
    for row in table["rows"]:
        cells = grid.add_row().cells
        for cell, value in zip(cells, row, strict=False):
            cell.text = str(value)


# --------------------------------------------------------------------------- PDF


def pdf_styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontName="Helvetica",
                          fontSize=10.5, leading=14.5, spaceAfter=7, alignment=TA_LEFT)
    return {
        "body": body,
        "title": ParagraphStyle("title", parent=base["Title"], fontName="Helvetica-Bold",
                                fontSize=20, leading=25, textColor=BRAND, alignment=TA_LEFT),
        "byline": ParagraphStyle("byline", parent=body, fontName="Helvetica-Oblique",
                                 textColor=colors.HexColor("#555555")),
        "h1": ParagraphStyle("h1", parent=base["Heading1"], fontName="Helvetica-Bold",
                             fontSize=14, leading=18, textColor=BRAND, spaceBefore=10),
        "h2": ParagraphStyle("h2", parent=base["Heading2"], fontName="Helvetica-Bold",
                             fontSize=12, leading=15, spaceBefore=6),
        "cell": ParagraphStyle("cell", parent=body, fontSize=9, leading=11.5, spaceAfter=0),
        "head": ParagraphStyle("head", parent=body, fontName="Helvetica-Bold", fontSize=9,
                               leading=11.5, spaceAfter=0, textColor=colors.white),
        "caption": ParagraphStyle("caption", parent=body, fontName="Helvetica-Oblique",
                                  fontSize=9, spaceBefore=4),
        "slide_title": ParagraphStyle("slide_title", parent=body, fontName="Helvetica-Bold",
                                      fontSize=22, leading=27, textColor=BRAND, spaceAfter=12),
        "slide_sub": ParagraphStyle("slide_sub", parent=body, fontSize=15, leading=20,
                                    textColor=colors.HexColor("#444444")),
        "slide_body": ParagraphStyle("slide_body", parent=body, fontSize=14, leading=19,
                                     spaceAfter=4),
    }


def pdf_table(table: dict[str, Any], styles: dict[str, ParagraphStyle], width: float) -> Table:
    head = [Paragraph(esc(c), styles["head"]) for c in table["columns"]]
    rows = [[Paragraph(esc(v), styles["cell"]) for v in row] for row in table["rows"]]
    widths = table.get("widths")
    if widths:
        col_widths = [width * w / sum(widths) for w in widths]
    else:
        col_widths = [width / len(head)] * len(head)
    grid = Table([head, *rows], colWidths=col_widths, repeatRows=1)
    grid.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), BRAND),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, LIGHT]),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#8EA9C8")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]))
    return grid


def bullet_list(items: list[Any], style: ParagraphStyle) -> ListFlowable:
    flow = []
    for item in items:
        if isinstance(item, dict):
            item = "\u2013 " + item["sub"]
        flow.append(ListItem(Paragraph(esc(item), style), leftIndent=14))
    return ListFlowable(flow, bulletType="bullet", start="\u2022", leftIndent=14)


def doc_template(out: Path, src: dict[str, Any], pagesize: tuple[float, float],
                 margins: float) -> SimpleDocTemplate:
    return SimpleDocTemplate(
        str(out), pagesize=pagesize, leftMargin=margins, rightMargin=margins,
        topMargin=margins + 0.4 * cm, bottomMargin=margins + 0.3 * cm,
        title=src["title"], author=src["author"], subject=src.get("subject", ""),
        keywords=src.get("keywords", ""), creator="Knowledge Bridge corpus build.py",
        producer="ReportLab", lang=src.get("language"), invariant=1,
    )


def build_pdf_report(src: dict[str, Any], out: Path) -> None:
    styles = pdf_styles()
    doc = doc_template(out, src, A4, 2.2 * cm)
    footer = src.get("footer", src["title"])

    def decorate(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.setFillColor(colors.HexColor("#666666"))
        canvas.drawString(2.2 * cm, 1.3 * cm, footer)
        canvas.drawRightString(A4[0] - 2.2 * cm, 1.3 * cm, str(document.page))
        canvas.setStrokeColor(BRAND)
        canvas.line(2.2 * cm, A4[1] - 1.7 * cm, A4[0] - 2.2 * cm, A4[1] - 1.7 * cm)
        canvas.restoreState()

    story: list[Any] = [
        Paragraph(esc(src["title"]), styles["title"]),
        Paragraph(esc(src.get("byline", f"{src['author']} - {src['date']}")), styles["byline"]),
        HRFlowable(width="100%", color=BRAND, thickness=1, spaceAfter=8),
    ]
    for section in src["sections"]:
        if section.get("page_break"):
            story.append(PageBreak())
        block: list[Any] = []
        if section.get("heading"):
            style = styles["h1"] if section.get("level", 1) == 1 else styles["h2"]
            block.append(Paragraph(esc(section["heading"]), style))
        paragraphs = section.get("paragraphs", [])
        if paragraphs:
            block.append(Paragraph(esc(paragraphs[0]), styles["body"]))
        story.append(KeepTogether(block))
        story.extend(Paragraph(esc(p), styles["body"]) for p in paragraphs[1:])
        if section.get("bullets"):
            story.append(bullet_list(section["bullets"], styles["body"]))
            story.append(Spacer(1, 5))
        if "table" in section:
            grid = pdf_table(section["table"], styles, A4[0] - 4.4 * cm)
            caption = section["table"].get("caption")
            parts = [Paragraph(esc(caption), styles["caption"])] if caption else []
            story.append(KeepTogether([*parts, grid, Spacer(1, 8)]))
        story.extend(Paragraph(esc(p), styles["body"]) for p in section.get("after", []))
    doc.build(story, onFirstPage=decorate, onLaterPages=decorate)


def build_pdf_deck(src: dict[str, Any], out: Path) -> None:
    styles = pdf_styles()
    width, height = DECK_PAGE
    doc = doc_template(out, src, DECK_PAGE, 1.4 * cm)
    label = src.get("footer", src["title"])

    def decorate(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFillColor(BRAND)
        canvas.rect(0, height - 0.55 * cm, width, 0.55 * cm, stroke=0, fill=1)
        canvas.setFont("Helvetica", 8)
        canvas.setFillColor(colors.HexColor("#666666"))
        canvas.drawString(1.4 * cm, 0.8 * cm, label)
        canvas.drawRightString(width - 1.4 * cm, 0.8 * cm, f"{document.page} / {n_slides}")
        canvas.restoreState()

    n_slides = len(src["slides"])
    story: list[Any] = []
    for number, spec in enumerate(src["slides"], start=1):
        if number > 1:
            story.append(PageBreak())
        if number == 1:
            story.append(Spacer(1, 2.2 * cm))
        story.append(Paragraph(esc(spec["title"]), styles["slide_title"]))
        if spec.get("subtitle"):
            story.append(Paragraph(esc(spec["subtitle"]), styles["slide_sub"]))
        if spec.get("bullets"):
            story.append(bullet_list(spec["bullets"], styles["slide_body"]))
        if "table" in spec:
            story.append(Spacer(1, 8))
            story.append(pdf_table(spec["table"], styles, width - 2.8 * cm))
    doc.build(story, onFirstPage=decorate, onLaterPages=decorate)


# --------------------------------------------------------------------------- main

BUILDERS = {
    "pptx": build_pptx,
    "docx": build_docx,
    "pdf_report": build_pdf_report,
    "pdf_deck": build_pdf_deck,
}


def load_sources() -> list[tuple[Path, dict[str, Any]]]:
    found = []
    for path in sorted(SOURCES.rglob("*.yaml")):
        src = yaml.safe_load(path.read_text(encoding="utf-8"))
        if src["format"] not in BUILDERS:
            raise SystemExit(f"{path}: unknown format {src['format']!r}")
        if src["format"].startswith("pdf"):
            check_winansi(src, path)
        found.append((path, src))
    return found


def build_all(target: Path) -> list[Path]:
    written = []
    for _, src in load_sources():
        out = target / src["output"]
        out.parent.mkdir(parents=True, exist_ok=True)
        BUILDERS[src["format"]](src, out)
        written.append(out)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="build into a temporary folder and compare with corpus/")
    args = parser.parse_args(argv)
    if not args.check:
        for out in build_all(CORPUS):
            print(out.relative_to(CORPUS))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        stale = [
            out.relative_to(tmp) for out in build_all(Path(tmp))
            if not (CORPUS / out.relative_to(tmp)).exists()
            or not filecmp.cmp(out, CORPUS / out.relative_to(tmp), shallow=False)
        ]
    for rel in stale:
        print(f"out of date: {rel}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
