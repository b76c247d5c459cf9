"""Titles, dates, languages and offices a person would write, from what files offer."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from reportlab.pdfgen.canvas import Canvas

from ingest.document import ParsedDocument, Provenance, Unit
from ingest.metadata import resolve_metadata
from ingest.parsers import parse_file
from ingest.titles import (
    canonical_office,
    date_from_file_name,
    is_plausible_title,
    title_for,
    title_from_file_name,
)

DECK = Path("decks/confianza_ciudad--pitch.es.pptx")


@pytest.mark.parametrize("junk", [
    "PITCH FINAL.pptx", "Microsoft Word - informe final.doc", "Untitled", "Presentation1",
    "PowerPoint Presentation", "Présentation PowerPoint", "PowerPoint-Präsentation",
    "Presentación de PowerPoint", "Diapositiva 1", "Document1", "Microsoft Word", "Slide 3",
    "confianza ciudad  pitch.es", "confianza_ciudad--pitch.es.pptx", "arXiv:2103.15348v2 [cs.CV]",
    "C:\\Users\\ana\\Desktop\\deck v3.key", "", "12", "x" * 200])
def test_junk_titles_are_not_titles(junk: str) -> None:
    assert not is_plausible_title(junk, DECK)


@pytest.mark.parametrize("title", [
    "Confianza Ciudad: seguridad en el hogar", "HomeBeat Health - Series A", "DiGA Fast-Track",
    "Final report on remote monitoring"])
def test_real_titles_are_kept(title: str) -> None:
    assert is_plausible_title(title, DECK)


def test_a_deck_with_a_junk_title_is_titled_by_its_first_slide() -> None:
    parsed = ParsedDocument([Unit("Confianza Ciudad\nSeguridad", Provenance(slide=1))],
                            heading="Confianza Ciudad")
    assert title_for(DECK, parsed, "PITCH FINAL.pptx", "es") == "Confianza Ciudad"


def test_the_file_name_is_the_last_resort_and_cleaned() -> None:
    parsed = ParsedDocument([Unit("Una frase larga que no es un título.", Provenance(slide=1))])
    assert title_for(DECK, parsed, None, "es") == "Confianza ciudad pitch"
    assert title_from_file_name(Path("mlss_interviews  interview 02.fr.vtt")) == (
        "Mlss interviews interview 02")
    assert title_from_file_name(Path("2023-12-05-schubert-rhythmo.txt")) == "Schubert rhythmo"


def test_an_interview_without_a_header_is_titled_by_who_answers_in_its_language() -> None:
    cues = [Unit("Bonjour, merci d'être là.", Provenance(speaker="Claire Dubois", start_s=0)),
            Unit("Avec plaisir.", Provenance(speaker="Sophie Nguyen", start_s=5)),
            Unit("Et ensuite ?", Provenance(speaker="Claire Dubois", start_s=9))]
    path = Path("interview 02.fr.vtt")
    assert title_for(path, ParsedDocument(cues), None, "fr") == "Entretien avec Sophie Nguyen"
    exchanges = [Unit("Q: Why?\nA: Because.", Provenance(speaker="Dr. Leon Schubert"))]
    assert title_for(path, ParsedDocument(exchanges), None, "de") == (
        "Interview mit Dr. Leon Schubert")


@pytest.mark.parametrize(("name", "expected"), [
    ("2023-12-05-schubert-interview.txt", dt.date(2023, 12, 5)),
    ("notes_2024_03_12.md", dt.date(2024, 3, 12)),
    ("report-20240312-final.pdf", dt.date(2024, 3, 12)),
    ("2024-03-deck.pptx", dt.date(2024, 3, 1)),
    ("deck-v2.pptx", None), ("2024-13-40-x.txt", None), ("1970-01-01-x.txt", None),
    ("2000-01-01-x.txt", None), ("2999-01-01-x.txt", None), ("call-123456789.txt", None)])
def test_dates_in_file_names(name: str, expected: dt.date | None) -> None:
    assert date_from_file_name(Path(name)) == expected


def test_office_names_take_the_configured_spelling() -> None:
    offices = {"paris": "EU", "boston": "US", "New York": "US"}
    assert canonical_office("PARIS", offices) == "Paris"
    assert canonical_office(" paris ", offices) == "Paris"
    assert canonical_office("new  york", offices) == "New York"
    assert canonical_office("Lyon", offices) == "Lyon"


def test_metadata_date_falls_back_to_the_file_name_for_every_type(tmp_path: Path) -> None:
    interview = tmp_path / "2023-12-05-schubert-rhythmo.txt"
    interview.write_text("Q: Wie geht's?\nA: Gut.\n", encoding="utf-8")
    parsed = ParsedDocument([Unit("Q: Wie geht's?\nA: Gut.")])
    assert resolve_metadata(interview, parsed, "de").date == dt.date(2023, 12, 5)
    # a placeholder date in the file's properties is no date: the name's is used
    epoch = ParsedDocument([Unit("Text.")], file_metadata={"date": "1970-01-01"})
    assert resolve_metadata(interview, epoch, "de").date == dt.date(2023, 12, 5)
    declared = ParsedDocument([Unit("Text.")], file_metadata={"date": "2023-11-30"})
    assert resolve_metadata(interview, declared, "de").date == dt.date(2023, 11, 30)


def test_detected_language_beats_the_files_own_claim_and_offices_are_canonical(
        tmp_path: Path) -> None:
    folder = tmp_path / "PARIS" / "reports"
    folder.mkdir(parents=True)
    path = folder / "bericht.txt"
    path.write_text("x", encoding="utf-8")
    parsed = ParsedDocument([Unit("Text.")], file_metadata={"language": "fr-FR"})
    meta = resolve_metadata(path, parsed, "de", office_regions={"paris": "EU"})
    assert (meta.language, meta.office, meta.region) == ("de", "Paris", "EU")


def test_a_pdf_titled_by_its_converter_is_titled_by_its_largest_line(tmp_path: Path) -> None:
    path = tmp_path / "draft3.pdf"
    canvas = Canvas(str(path))
    canvas.setTitle("Microsoft Word - draft3.doc")
    canvas.setFont("Helvetica", 9)
    canvas.drawString(72, 800, "Meridia internal - do not forward")
    canvas.setFont("Helvetica-Bold", 22)
    canvas.drawString(72, 760, "Remote monitoring in rural Spain")
    canvas.setFont("Helvetica", 11)
    canvas.drawString(72, 720, "Nurses call patients whose weight rises by two kilograms.")
    canvas.save()
    parsed = parse_file(path)
    assert parsed.heading == "Remote monitoring in rural Spain"
    meta = resolve_metadata(path, parsed, "en")
    assert meta.title == "Remote monitoring in rural Spain"
