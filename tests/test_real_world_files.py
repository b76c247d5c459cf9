"""A folder nobody tidied, through `bridge ingest` and the API, as a new user meets them.

Scans, a deck whose slides are pictures and charts with a junk title, a PDF whose font map
yields lone surrogates (it used to kill the whole run), a Word file holding only a
picture, PDF bullets that come out as control characters, an interview dated only by its
file name, a German report that declares itself French, an office folder in capitals, and
broken, encrypted and empty files. Everything is real: the CLI, Tesseract, the model,
SQLite, FAISS and a uvicorn server on loopback.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docx
import httpx
import pytest

from api.local_server import BRIDGE, bridge_server, uploaded
from tests.filemakers import (
    ChartSpec,
    Heading,
    Picture,
    SlideSpec,
    lone_surrogate_pdf,
    make_docx,
    make_pdf,
    make_pptx,
    scanned_pdf,
)

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
SCAN = "Quarkblossom wearable cuts\nreadmissions by thirty percent"
SLIDE_PICTURE = "Zorvexin patch reduces\nnight alarms by half"
FONT_MAP_TEXT = "Weight alerts ~ cut readmissions in the Lyon heart failure program"
WORD_PICTURE = "Kestrelwood frailty score\nfor rural homes"
GERMAN = ("Die Telemonitoring-Zentrale ruft Patientinnen an, wenn das Gewicht in drei Tagen um "
          "zwei Kilogramm steigt. Die Pflegekräfte dokumentieren jeden Anruf im Register, und "
          "die Hausärzte erhalten wöchentlich eine Zusammenfassung der Alarme.")


def wild_folder(root: Path) -> Path:
    """The files an office really holds, each with its own trouble."""
    for folder in ("paris/decks", "PARIS/reports", "boston/reports", "berlin/interviews",
                   "berlin/reports", "madrid/notes", "madrid/reports"):
        (root / folder).mkdir(parents=True)
    chart = ChartSpec("Wants a peach", ["January", "February", "March"],
                      {"Peach lovers": [3, 5, 8]}, ("Month", "Votes"))
    make_pptx(root / "paris/decks/confianza_ciudad--pitch.es.pptx", [
        SlideSpec(title="Confianza Ciudad", body=["Seguridad en el hogar para mayores"]),
        SlideSpec(picture=SLIDE_PICTURE), SlideSpec(chart=chart)], title="PITCH FINAL.pptx")
    scanned_pdf(root / "PARIS/reports/scan-0042.pdf", [SCAN])
    lone_surrogate_pdf(root / "boston/reports/font-map.pdf", FONT_MAP_TEXT)
    make_pdf(root / "boston/reports/bullets.pdf", [
        "Why now\n• Asthma is the top chronic cause of missed school days\n"
        "• Rescue inhaler use at school is invisible to parents"])
    (root / "berlin/interviews/2023-12-05-schubert-rhythmo.txt").write_text(
        "Interview: Dr. Leon Schubert, CEO von Rhythmo\nDatum: 05.12.2023\n\n"
        "Q: Was macht Rhythmo?\nA: Wir erkennen Vorhofflimmern mit Smartwatches.\n"
        "Q: Wie viele Patienten?\nA: Rund zwölftausend in drei Studien.\n", encoding="utf-8")
    report = make_docx(root / "berlin/reports/bericht.docx", [Heading("Telemonitoring"), GERMAN])
    declared_french = docx.Document(str(report))
    declared_french.core_properties.language = "fr-FR"
    declared_french.save(str(report))
    make_docx(root / "madrid/notes/escaneo.docx", [Picture(WORD_PICTURE)])
    make_pdf(root / "madrid/reports/cifrado.pdf", ["secreto"], password="clave")
    (root / "madrid/reports/vacio.txt").write_text(" \n\t\n", encoding="utf-8")
    truncated = make_docx(root / "madrid/reports/cortado.docx", ["Texto que se cortará."])
    truncated.write_bytes(truncated.read_bytes()[:400])
    return root


@pytest.fixture(scope="module")
def wild_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {**os.environ, "BRIDGE_DATA_DIR": str(tmp_path_factory.mktemp("wild-data"))}


@pytest.fixture(scope="module")
def wild_run(tmp_path_factory: pytest.TempPathFactory, wild_env: dict[str, str]
             ) -> tuple[subprocess.CompletedProcess, dict]:
    folder = wild_folder(tmp_path_factory.mktemp("wild"))
    run = subprocess.run([*BRIDGE, "ingest", str(folder), "--json"], env=wild_env,
                         capture_output=True, text=True, timeout=600)
    return run, json.loads(run.stdout or "{}")


@pytest.fixture(scope="module")
def wild_server(wild_env: dict[str, str], wild_run: tuple) -> Iterator[httpx.Client]:
    with bridge_server(wild_env) as client:
        yield client


def names(paths: list[str]) -> list[str]:
    return sorted(Path(p).name for p in paths)


def first_hit(client: httpx.Client, query: str) -> dict:
    response = client.post("/search", json={"query": query, "k": 3})
    assert response.status_code == 200, response.text
    hit = response.json()["hits"][0]
    hit["provenance"] = {k: v for k, v in hit["provenance"].items() if v is not None}
    return hit


def test_no_file_stops_the_run_and_failures_are_grouped_by_why(wild_run: tuple) -> None:
    run, report = wild_run
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    assert names(report["added"]) == [
        "2023-12-05-schubert-rhythmo.txt", "bericht.docx", "bullets.pdf",
        "confianza_ciudad--pitch.es.pptx", "escaneo.docx", "font-map.pdf", "scan-0042.pdf"]
    groups = {kind: names(paths) for kind, paths in report["failures_by_kind"].items()}
    assert groups == {"encrypted (needs a password)": ["cifrado.pdf"], "empty": ["vacio.txt"],
                      "malformed DOCX": ["cortado.docx"]}
    assert report["ocr_images"] == 3 and report["ocr_seconds"] > 0


def test_bridge_runs_lists_the_failures_by_why(wild_run: tuple,
                                               wild_env: dict[str, str]) -> None:
    runs = subprocess.run([*BRIDGE, "runs"], env=wild_env, capture_output=True, text=True,
                          timeout=120, check=True).stdout
    assert "encrypted (needs a password) (1):" in runs and "malformed DOCX (1):" in runs
    assert re.search(r"vacio\.txt: no text", runs)


def test_what_scans_picture_slides_and_charts_say_is_found_first(
        wild_server: httpx.Client) -> None:
    hit = first_hit(wild_server, "Zorvexin patch reduces night alarms")
    assert hit["document"]["title"] == "Confianza Ciudad"
    assert hit["provenance"] == {"slide": 2, "ocr": True}
    page = wild_server.get("/", params={"q": "Zorvexin patch reduces night alarms"}).text
    assert "slide 2, read by OCR" in page  # the web page says where the words came from
    hit = first_hit(wild_server, "Quarkblossom wearable readmissions")
    assert Path(hit["document"]["source_path"]).name == "scan-0042.pdf"
    assert hit["provenance"] == {"page": 1, "ocr": True}
    hit = first_hit(wild_server, "wants a peach by month")
    assert hit["provenance"]["slide"] == 3 and "January, February, March" in hit["text"]
    hit = first_hit(wild_server, "Kestrelwood frailty score")
    assert Path(hit["document"]["source_path"]).name == "escaneo.docx"


def test_titles_dates_languages_and_offices_a_person_would_write(
        wild_server: httpx.Client) -> None:
    documents = {Path(d["source_path"]).name: d
                 for d in wild_server.get("/documents", params={"limit": 100}).json()["documents"]}
    assert documents["confianza_ciudad--pitch.es.pptx"]["title"] == "Confianza Ciudad"
    interview = documents["2023-12-05-schubert-rhythmo.txt"]
    assert interview["title"] == "Interview: Dr. Leon Schubert, CEO von Rhythmo"
    assert interview["date"] == "2023-12-05"
    assert documents["bericht.docx"]["language"] == "de"  # declared fr-FR, written in German
    assert documents["bericht.docx"]["title"] == "Telemonitoring"
    assert documents["scan-0042.pdf"]["office"] == "Paris"  # the folder says PARIS
    offices = {d["office"] for d in documents.values()}
    assert offices == {"Paris", "Boston", "Berlin", "Madrid"}


def test_no_chunk_holds_a_control_character(wild_server: httpx.Client) -> None:
    listing = wild_server.get("/documents", params={"limit": 100}).json()["documents"]
    for document in listing:
        chunks = wild_server.get(f"/documents/{document['id']}").json()["chunks"]
        for chunk in chunks:
            assert not CONTROL.search(chunk["text"]), (document["title"], chunk["text"])
    bullets = next(d for d in listing if Path(d["source_path"]).name == "bullets.pdf")
    text = wild_server.get(f"/documents/{bullets['id']}").json()["chunks"][0]["text"]
    assert "- Asthma is the top chronic cause" in text
    hit = first_hit(wild_server, "weight alerts cut readmissions in Lyon")
    assert hit["text"] == FONT_MAP_TEXT.replace("~ ", "")  # the surrogate gone, the rest kept


def test_the_run_report_over_http_groups_failures(wild_server: httpx.Client) -> None:
    [run] = wild_server.get("/admin/runs").json()
    assert set(run["report"]["failures_by_kind"]) == {
        "encrypted (needs a password)", "empty", "malformed DOCX"}


def test_an_uploaded_picture_deck_is_read_and_searchable(wild_server: httpx.Client,
                                                         tmp_path: Path) -> None:
    pictures = make_pptx(tmp_path / "deck.pptx", [
        SlideSpec(picture="Brindlefen inhaler sensor\nfor school nurses")])
    [stored] = uploaded(wild_server, ("Presentation1.pptx", pictures.read_bytes()),
                        office="madrid")
    assert stored["status"] == "added"
    hit = first_hit(wild_server, "Brindlefen inhaler sensor")
    assert hit["document"]["id"] == stored["document_id"]
    assert hit["provenance"] == {"slide": 1, "ocr": True}
    # the office as configured; the title its own words, not the junk file name
    assert (hit["document"]["office"], hit["document"]["title"]) == (
        "Madrid", "Brindlefen inhaler sensor")
