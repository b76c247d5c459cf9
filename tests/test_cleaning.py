"""The one cleaning step every parser's text passes: what it removes, folds and joins."""

from __future__ import annotations

import re
import unicodedata

from ingest.cleaning import clean_document, clean_text
from ingest.document import ParsedDocument, Provenance, Unit

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def test_lone_surrogates_and_control_characters_are_removed() -> None:
    raw = "Weight \ud800alerts\x00 cut\x07 re\x1badmissions\x7f by\x81 a \udc00quarter\x9d."
    cleaned = clean_text(raw)
    assert cleaned == "Weight alerts cut readmissions by a quarter."
    cleaned.encode("utf-8")  # raised UnicodeEncodeError on the surrogates before


def test_c1_characters_that_were_windows_1252_punctuation_become_it() -> None:
    assert clean_text("\x93Quoted\x94 \x96 and so on\x85") == (
        "\u201cQuoted\u201d \u2013 and so on\u2026")


def test_a_surrogate_pair_becomes_its_character() -> None:
    assert clean_text("Mood \ud83d\ude00 tracking") == "Mood \U0001f600 tracking"


def test_tabs_and_newlines_stay_office_breaks_become_newlines() -> None:
    assert clean_text("a\tb\nc\x0bd\x0ce\r\nf") == "a\tb\nc\nd\ne\nf"


def test_unicode_is_nfc_ligatures_and_soft_hyphens_are_folded() -> None:
    decomposed = "te\u0301le\u0301surveillance"  # e + combining acute
    assert clean_text(decomposed) == unicodedata.normalize("NFC", decomposed) == "télésurveillance"
    assert clean_text("e\ufb03cacy of the \ufb01rst \ufb02ow") == "efficacy of the first flow"
    assert clean_text("tele\u00admoni\u00adtoring") == "telemonitoring"


def test_words_hyphenated_at_line_ends_are_joined_names_keep_their_hyphen() -> None:
    assert clean_text("remote monitor-\ning of heart fail-\nure") == (
        "remote monitoring of heart failure")
    assert clean_text("the Real-\nWorld Evidence team") == "the Real-\nWorld Evidence team"


def test_bullet_glyphs_become_dashes() -> None:
    # PDF fonts without a Unicode map for their bullet give U+007F, alone on its line
    pdf_text = "Why now\n\x7f\nAbout 4.5 million children\n\x7f\nRescue inhalers are invisible"
    assert clean_text(pdf_text) == (
        "Why now\n- About 4.5 million children\n- Rescue inhalers are invisible")
    assert clean_text("\u2022 one\n\uf0b7 two\n\u25aa\tthree") == "- one\n- two\n- three"


def test_mojibake_from_a_wrong_code_page_is_repaired() -> None:
    assert clean_text("Youth career\n\u00e2\u0080\u00931986 Watford") == (
        "Youth career\n\u20131986 Watford")


def test_running_headers_footers_and_page_numbers_are_dropped() -> None:
    pages = [f"PuffSense Inc. - Confidential\n{n} / 5\nFinding {word} of the study.\n"
             f"Page {n} of 5" for n, word in enumerate(["one", "two", "three", "four", "five"], 1)]
    pages[2] += "\nPuffSense Inc. - Confidential is said mid-page here too."
    document = ParsedDocument(units=[Unit(text, Provenance(page=n))
                                     for n, text in enumerate(pages, 1)])
    cleaned = clean_document(document)
    # a running line with words stays once, where it first appears; numbers never
    assert [u.text for u in cleaned.units][:2] == [
        "PuffSense Inc. - Confidential\nFinding one of the study.", "Finding two of the study."]
    assert cleaned.units[2].text.endswith("Confidential is said mid-page here too.")


def test_two_pages_are_too_few_to_tell_a_running_line() -> None:
    units = [Unit("Same header\nBody one", Provenance(page=1)),
             Unit("Same header\nBody two", Provenance(page=2))]
    assert [u.text for u in clean_document(ParsedDocument(units)).units] == [
        "Same header\nBody one", "Same header\nBody two"]


def test_labels_and_metadata_are_cleaned_and_empty_units_dropped() -> None:
    document = ParsedDocument(
        units=[Unit("\x7f\x00", Provenance(page=1)),
               Unit("Body", Provenance(section="\ufb01ndings\x01", speaker="Dr.\x00 Okafor"))],
        file_metadata={"title": "Weight\ud800 alerts\x7f", "keywords": ["a\x00b"]},
        front_matter={"author": {"name": "Cl\u00e9\x1fa"}},
        heading="  The \ufb01rst\n heading ")
    cleaned = clean_document(document)
    assert [(u.text, u.provenance) for u in cleaned.units] == [
        ("Body", Provenance(section="findings", speaker="Dr. Okafor"))]
    assert cleaned.file_metadata == {"title": "Weight alerts", "keywords": ["ab"]}
    assert cleaned.front_matter == {"author": {"name": "Cléa"}}
    assert cleaned.heading == "The first heading"
    assert not any(CONTROL.search(u.text) for u in cleaned.units)


def test_a_page_whose_only_line_repeats_keeps_it() -> None:
    """Eight scanned slides, each only "Quarkblossom page N": not a running header."""
    units = [Unit(f"Quarkblossom page {n}", Provenance(page=n)) for n in range(1, 9)]
    cleaned = clean_document(ParsedDocument(units))
    assert [u.text for u in cleaned.units] == [u.text for u in units]
    numbers_only = [Unit(f"Finding {w}\n{n} / 5", Provenance(page=n))
                    for n, w in enumerate(["one", "two", "three", "four", "five"], 1)]
    assert [u.text for u in clean_document(ParsedDocument(numbers_only)).units] == [
        "Finding one", "Finding two", "Finding three", "Finding four", "Finding five"]
