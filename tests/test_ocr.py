"""Scans, picture slides, pictures in Word files, charts and tables: read, with real Tesseract.

Each test builds its files (reportlab, Pillow, python-pptx, python-docx) and parses them
with ``parse_file``, the one entry point ingest uses; the end-to-end path through `bridge
ingest` and the API is in ``test_real_world_files``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytesseract
import pytest
from reportlab.lib import colors
from reportlab.platypus import SimpleDocTemplate
from reportlab.platypus import Table as PdfTable

from ingest.document import ParseError, Provenance
from ingest.ocr import DEFAULT_OCR, installed_languages
from ingest.parsers import parse_file
from tests.filemakers import (
    ChartSpec,
    Heading,
    Picture,
    SlideSpec,
    Table,
    make_docx,
    make_pdf,
    make_pptx,
    scanned_pdf,
)

SCAN = "Quarkblossom wearable cuts\nreadmissions by thirty percent"


def words(text: str) -> list[str]:
    return text.lower().split()


@pytest.fixture
def no_tesseract(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A machine without Tesseract: pytesseract's documented setting points at no program."""
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    installed_languages.cache_clear()
    yield
    installed_languages.cache_clear()


def test_a_scanned_pdf_is_read_by_ocr_with_its_page(tmp_path: Path) -> None:
    path = scanned_pdf(tmp_path / "scan.pdf", ["Page one has text in the layer.", SCAN])
    parsed = parse_file(path)
    assert [u.provenance for u in parsed.units] == [Provenance(page=1, ocr=True),
                                                     Provenance(page=2, ocr=True)]
    assert words(parsed.units[1].text) == words(SCAN)
    assert parsed.ocr.images == 2 and parsed.ocr.seconds > 0


def test_pages_with_a_text_layer_are_not_read_by_ocr_unless_forced(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "text.pdf", ["A page whose text layer says everything there is."])
    assert parse_file(path).ocr.images == 0
    forced = parse_file(path, ocr=replace(DEFAULT_OCR, mode="force"))
    assert forced.ocr.images == 1 and forced.units[0].provenance.ocr


def test_without_tesseract_a_scan_fails_with_what_to_install(tmp_path: Path,
                                                             no_tesseract: None) -> None:
    path = scanned_pdf(tmp_path / "scan.pdf", [SCAN])
    with pytest.raises(ParseError) as caught:
        parse_file(path)
    assert caught.value.reason == "needs OCR: install tesseract-ocr"
    # a file with text of its own is still read, without OCR
    assert parse_file(make_pdf(tmp_path / "text.pdf", ["Plain text page."])).units


def test_with_ocr_off_a_scan_fails_and_says_so(tmp_path: Path) -> None:
    with pytest.raises(ParseError) as caught:
        parse_file(scanned_pdf(tmp_path / "scan.pdf", [SCAN]),
                   ocr=replace(DEFAULT_OCR, mode="off"))
    assert caught.value.reason == "needs OCR: OCR is off (setting ocr)"


def test_picture_slides_charts_and_no_master_prompts(tmp_path: Path) -> None:
    chart = ChartSpec("Wants a peach", ["January", "February", "March"],
                      {"Peach lovers": [3, 5, 8], "Plum lovers": [2, 2, 1]}, ("Month", "Votes"))
    deck = make_pptx(tmp_path / "deck.pptx", [
        SlideSpec(title="Click to edit Master title style", body=["Nuitée sleep coaching"]),
        SlideSpec(picture=SCAN),
        SlideSpec(chart=chart)])
    parsed = parse_file(deck)
    assert [u.provenance.slide for u in parsed.units] == [1, 2, 3]
    assert parsed.units[0].text == "Nuitée sleep coaching"
    assert words(parsed.units[1].text) == words(SCAN) and parsed.units[1].provenance.ocr
    assert parsed.units[2].text == (
        "Wants a peach\nMonth | Votes\nJanuary, February, March\nPeach lovers, Plum lovers")
    assert parsed.units[2].provenance.ocr is None


def test_the_same_logo_on_every_slide_is_read_once_and_kept_once(tmp_path: Path) -> None:
    findings = ["Weight alerts", "Nurse calls", "Fewer readmissions"]
    slides = [SlideSpec(body=[finding], picture="HomeBeat Health") for finding in findings]
    parsed = parse_file(make_pptx(tmp_path / "logos.pptx", slides))
    assert parsed.ocr.images == 1
    assert [u.text for u in parsed.units] == [
        "Weight alerts\nHome Beat Health", "Nurse calls", "Fewer readmissions"]


def test_a_word_file_of_pictures_and_tables(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "scan.docx", [
        Heading("Findings"), Picture(SCAN),
        Table([["Site", "Patients"], ["Lyon", "420"], ["Nantes", "380"]])])
    parsed = parse_file(path)
    [unit] = parsed.units
    assert unit.provenance == Provenance(section="Findings", ocr=True)
    lines = unit.text.split("\n")
    assert words(" ".join(lines[1:-3])) == words(SCAN)
    assert lines[-3:] == ["Site | Patients", "Lyon | 420", "Nantes | 380"]
    with pytest.raises(ParseError, match=r"^empty: no text$"):
        parse_file(make_docx(tmp_path / "icon.docx", [Picture("")]))


def test_a_ruled_pdf_table_is_read_row_by_row(tmp_path: Path) -> None:
    path = tmp_path / "table.pdf"
    rows = [["Program", "Patients", "Readmissions"], ["St. Brendan", "420", "-31%"],
            ["Riverside", "180", "-12%"]]
    table = PdfTable(rows)
    table.setStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black)])
    SimpleDocTemplate(str(path)).build([table])
    assert parse_file(path).units[0].text == (
        "Program | Patients | Readmissions\nSt. Brendan | 420 | -31%\nRiverside | 180 | -12%")


def test_tesseract_has_the_offices_languages() -> None:
    assert {"eng", "fra", "deu", "spa"} <= (installed_languages() or set())
