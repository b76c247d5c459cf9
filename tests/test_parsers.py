"""Parser tests on small files each test builds for itself (see tests/filemakers.py)."""

from __future__ import annotations

import codecs
from datetime import datetime
from pathlib import Path

import pytest

from ingest.document import ParseError, Provenance
from ingest.parsers import SUPPORTED_SUFFIXES, TEXT_PARSERS, parse_file
from ingest.parsers.encoding import decode_bytes
from tests.filemakers import OLE_MAGIC, Heading, SlideSpec, Table, make_docx, make_pdf, make_pptx


def write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def reason(path: Path) -> str:
    with pytest.raises(ParseError) as caught:
        parse_file(path)
    return caught.value.reason


# --- encoding -----------------------------------------------------------------------------

SAMPLE = "Grüße, café – “naïve”\r\nzweite Zeile\rdritte"
EXPECTED = "Grüße, café – “naïve”\nzweite Zeile\ndritte"


@pytest.mark.parametrize(
    ("bom", "encoding"),
    [
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
    ],
)
def test_decode_bytes_follows_the_bom(bom: bytes, encoding: str) -> None:
    assert decode_bytes(bom + SAMPLE.encode(encoding)) == EXPECTED


def test_decode_bytes_plain_utf8_and_legacy_code_page() -> None:
    assert decode_bytes(SAMPLE.encode("utf-8")) == EXPECTED
    assert decode_bytes(SAMPLE.encode("cp1252")) == EXPECTED
    french = "Où étiez-vous ? À la maison, naïvement, « très » tôt."
    assert decode_bytes(french.encode("cp1252")) == french


# --- registry -----------------------------------------------------------------------------


def test_supported_suffixes() -> None:
    assert {".pdf", ".pptx", ".docx", ".md", ".txt", ".vtt", ".srt"} <= SUPPORTED_SUFFIXES


def test_unsupported_suffix_and_empty_file(tmp_path: Path) -> None:
    assert reason(write(tmp_path / "sheet.xlsx", "x")) == "unsupported file type: .xlsx"
    assert reason(write(tmp_path / "README", "x")) == "unsupported file type: (no suffix)"
    for name in ("empty.txt", "empty.pdf", "empty.docx"):
        assert reason(write(tmp_path / name, b"")) == "empty: 0 bytes"


def test_suffix_is_case_insensitive(tmp_path: Path) -> None:
    doc = parse_file(write(tmp_path / "NOTES.TXT", "Upper-case suffixes are fine."))
    assert doc.text == "Upper-case suffixes are fine."


def test_unexpected_parser_exception_becomes_parse_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(path: Path) -> None:
        raise KeyError("word/document.xml")

    monkeypatch.setitem(TEXT_PARSERS, ".txt", broken)
    expected = "malformed TXT: word/document.xml"  # in words: no library's class names
    assert reason(write(tmp_path / "a.txt", "x")) == expected


def test_missing_file_is_a_parse_error(tmp_path: Path) -> None:
    assert reason(tmp_path / "gone.pdf") == "cannot read file: No such file or directory"


# --- PDF ----------------------------------------------------------------------------------


def test_pdf_units_per_page_skipping_blank_pages(tmp_path: Path) -> None:
    path = make_pdf(
        tmp_path / "report.pdf",
        ["First page about solar panels.", "", "Third page about wind turbines."],
        title="Energy Report",
        author="Ada Lovelace",
        created=datetime(2021, 3, 4, 10, 0),
    )
    doc = parse_file(path)
    assert [u.provenance for u in doc.units] == [Provenance(page=1), Provenance(page=3)]
    assert doc.units[0].text == "First page about solar panels."
    assert doc.units[1].text == "Third page about wind turbines."
    assert doc.file_metadata == {
        "title": "Energy Report",
        "author": "Ada Lovelace",
        "date": "2021-03-04",
    }


def test_pdf_of_blank_pages_is_empty_after_ocr_found_nothing(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "blank.pdf", ["", ""])
    assert reason(path) == "empty: no text, and OCR found none"


def test_pdf_needing_a_password(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "secret.pdf", ["Top secret."], password="hunter2")
    assert reason(path) == "encrypted (needs a password)"


def test_pdf_with_empty_user_password_opens(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "protected.pdf", ["Copying is restricted."], owner_password="x")
    assert parse_file(path).units[0].text == "Copying is restricted."


def test_broken_pdfs(tmp_path: Path) -> None:
    garbage = write(tmp_path / "garbage.pdf", bytes(range(256)) * 8)
    assert reason(garbage).startswith("malformed PDF: ")
    whole = make_pdf(tmp_path / "whole.pdf", ["Some text that will be cut off."]).read_bytes()
    truncated = write(tmp_path / "truncated.pdf", whole[: len(whole) // 2])
    assert reason(truncated).startswith("malformed PDF: ")


# --- PPTX ---------------------------------------------------------------------------------


def test_pptx_slide_text_in_order(tmp_path: Path) -> None:
    path = make_pptx(
        tmp_path / "deck.pptx",
        [
            SlideSpec(
                title="Quarterly results",
                body=["Revenue grew 12%", "Costs fell"],
                table=[["Region", "Sales"], ["North", "120"]],
                group=["Grouped left", "Grouped right"],
                notes="Mention the new office.",
            ),
            SlideSpec(),  # nothing on it: skipped, but numbering keeps its place
            SlideSpec(body=["Untitled slide text"]),
        ],
        title="Q3 Review",
        author="Grace Hopper",
    )
    doc = parse_file(path)
    assert [u.provenance for u in doc.units] == [
        Provenance(slide=1, section="Quarterly results"),
        Provenance(slide=3),
    ]
    assert doc.units[0].text == (
        "Quarterly results\nRevenue grew 12%\nCosts fell\nRegion | Sales\nNorth | 120\n"
        "Grouped left\nGrouped right\nNotes: Mention the new office."
    )
    assert doc.units[1].text == "Untitled slide text"
    assert doc.file_metadata == {
        "title": "Q3 Review",
        "author": "Grace Hopper",
        "date": "2023-05-17",
    }


def test_pptx_with_notes_only(tmp_path: Path) -> None:
    doc = parse_file(make_pptx(tmp_path / "n.pptx", [SlideSpec(notes="Only the notes.")]))
    assert doc.units[0].text == "Notes: Only the notes."


def test_pptx_failures(tmp_path: Path) -> None:
    assert reason(make_pptx(tmp_path / "blank.pptx", [SlideSpec()])) == "empty: no text"
    assert reason(make_pptx(tmp_path / "none.pptx", [])) == "empty: no text"
    encrypted = write(tmp_path / "locked.pptx", OLE_MAGIC + bytes(504))
    assert reason(encrypted) == "encrypted (needs a password)"
    not_a_zip = write(tmp_path / "fake.pptx", "just some text")
    assert reason(not_a_zip).startswith("malformed PPTX: not a zip archive")
    docx_inside = make_docx(tmp_path / "doc.docx", ["A Word file."]).read_bytes()
    assert reason(write(tmp_path / "renamed.pptx", docx_inside)).startswith("malformed PPTX: ")


# --- DOCX ---------------------------------------------------------------------------------


def test_docx_sections_tables_headers_and_footers(tmp_path: Path) -> None:
    path = make_docx(
        tmp_path / "handbook.docx",
        [
            "Preface before any heading.",
            Heading("Handbook", level=0),
            Heading("Scope"),
            "This handbook covers travel.",
            Table([["Item", "Limit"], ["Hotel", "150 EUR"]]),
            "Text after the table.",
            Heading("Approvals", level=2),
            "Managers approve trips.",
        ],
        header="ACME Corp – internal",
        footer="Page footer text",
        new_section_before=6,  # the second section inherits header and footer
        title="Travel Handbook",
        author="Finance",
    )
    doc = parse_file(path)
    assert [(u.provenance.section, u.text) for u in doc.units] == [
        (None, "Preface before any heading."),
        ("Handbook", "Handbook"),
        (
            "Scope",
            "Scope\nThis handbook covers travel.\nItem | Limit\nHotel | 150 EUR\n"
            "Text after the table.",
        ),
        ("Approvals", "Approvals\nManagers approve trips."),
        ("Header", "ACME Corp – internal"),
        ("Footer", "Page footer text"),
    ]
    assert doc.file_metadata == {
        "title": "Travel Handbook",
        "author": "Finance",
        "date": "2023-05-17",
    }


def test_docx_failures(tmp_path: Path) -> None:
    whole = make_docx(tmp_path / "whole.docx", ["Some text."] * 50).read_bytes()
    truncated = write(tmp_path / "truncated.docx", whole[: len(whole) // 2])
    assert reason(truncated).startswith("malformed DOCX: ")
    assert reason(write(tmp_path / "locked.docx", OLE_MAGIC + bytes(504))) == (
        "encrypted (needs a password)")
    assert reason(make_docx(tmp_path / "blank.docx", [""])) == "empty: no text"


# --- Markdown -----------------------------------------------------------------------------

MARKDOWN = """---
title: Install guide
date: 2024-02-01
tags: [setup, linux]
---
Intro text before any heading.

# Knowledge Bridge [![CI](https://ci.example/badge.svg)](https://ci.example)

Overview paragraph with a [link](https://example.org).

## Install

### Linux ###

```bash
# this is a shell comment, not a heading
pip install knowledge-bridge
```

## Usage

Run it.
"""


def test_markdown_front_matter_and_heading_paths(tmp_path: Path) -> None:
    doc = parse_file(write(tmp_path / "guide.md", MARKDOWN))
    assert doc.front_matter == {
        "title": "Install guide",
        "date": "2024-02-01",
        "tags": ["setup", "linux"],
    }
    assert doc.file_metadata == {"title": "Knowledge Bridge"}
    assert [u.provenance.section for u in doc.units] == [
        None,
        "Knowledge Bridge",
        "Knowledge Bridge > Install",
        "Knowledge Bridge > Install > Linux",
        "Knowledge Bridge > Usage",
    ]
    assert doc.units[0].text == "Intro text before any heading."
    assert doc.units[1].text == (
        "Knowledge Bridge\n\nOverview paragraph with a [link](https://example.org)."
    )
    assert "# this is a shell comment, not a heading" in doc.units[3].text
    assert doc.units[4].text == "Usage\n\nRun it."


def test_markdown_in_a_legacy_encoding(tmp_path: Path) -> None:
    content = "## Über uns\n\nWir können das.\n".encode("cp1252")
    doc = parse_file(write(tmp_path / "old.md", content))
    assert doc.units[0].provenance.section == "Über uns"
    assert doc.units[0].text == "Über uns\n\nWir können das."


def test_markdown_with_broken_front_matter_keeps_the_text(tmp_path: Path) -> None:
    doc = parse_file(write(tmp_path / "bad.md", "---\ntitle: [unclosed\n---\nBody text.\n"))
    assert doc.front_matter == {}
    assert "Body text." in doc.text


# --- plain text ---------------------------------------------------------------------------


def test_text_paragraphs_utf16_with_bom(tmp_path: Path) -> None:
    content = "First paragraph,\nstill first.\n\n\nSecond paragraph: Zürich."
    doc = parse_file(write(tmp_path / "notes.txt", content.encode("utf-16")))
    assert [u.text for u in doc.units] == [
        "First paragraph,\nstill first.",
        "Second paragraph: Zürich.",
    ]
    assert all(u.provenance == Provenance() for u in doc.units)


def test_text_in_cp1252(tmp_path: Path) -> None:
    doc = parse_file(write(tmp_path / "legacy.txt", "Œuvre complète – 5 €.".encode("cp1252")))
    assert doc.text == "Œuvre complète – 5 €."


def test_text_whitespace_only(tmp_path: Path) -> None:
    assert reason(write(tmp_path / "blank.txt", " \n\t\n\n")) == "empty: no text"


def test_qa_transcript_gives_one_unit_per_exchange(tmp_path: Path) -> None:
    transcript = (
        "Interview recorded in Lyon, 2022\n\n"
        "Q: When did you start the cooperative?\n"
        "A: In 1998, with six families.\n"
        "It grew slowly at first.\n\n"
        "Q: " + "Why " * 30 + "?\n"
        "A: Because nobody else would.\n"
    )
    doc = parse_file(write(tmp_path / "interview.txt", transcript))
    assert [u.text for u in doc.units] == [
        "Interview recorded in Lyon, 2022",
        "Q: When did you start the cooperative?\nA: In 1998, with six families.\n"
        "It grew slowly at first.",
        "Q: " + "Why " * 29 + "Why ?\nA: Because nobody else would.",
    ]
    assert doc.units[0].provenance == Provenance()
    assert doc.units[1].provenance == Provenance(
        speaker="A", section="When did you start the cooperative?"
    )
    section = doc.units[2].provenance.section
    assert section is not None and section.endswith("…") and len(section) <= 81


def test_named_speaker_transcript(tmp_path: Path) -> None:
    transcript = (
        "Interviewer: What was the harvest like?\n"
        "Maria Lopez: Poor, the rain came late.\n"
        "Juan Lopez: And the hail.\n"
        "Interviewer: And this year?\n"
        "Maria Lopez: Much better.\n"
    )
    doc = parse_file(write(tmp_path / "family.txt", transcript))
    assert [u.provenance for u in doc.units] == [
        Provenance(speaker="Maria Lopez, Juan Lopez", section="What was the harvest like?"),
        Provenance(speaker="Maria Lopez", section="And this year?"),
    ]
    assert doc.units[1].text == "Interviewer: And this year?\nMaria Lopez: Much better."


def test_prose_with_colons_is_not_a_transcript(tmp_path: Path) -> None:
    prose = (
        "Note: the meeting moved.\n"
        "The new room is on the second floor, next to the library.\n"
        "Please bring the printed agenda and your laptop.\n\n"
        "Thanks to everyone who helped organise it.\n"
    )
    doc = parse_file(write(tmp_path / "memo.txt", prose))
    assert len(doc.units) == 2
    assert doc.units[0].text.startswith("Note: the meeting moved.\nThe new room")


# --- subtitles ----------------------------------------------------------------------------

VTT = """WEBVTT

00:00:01.000 --> 00:00:04.000
<v Roger Bingham>We are in New York City

00:00:04.000 --> 00:00:06.500
<v Roger Bingham>and we’re going to be <i>talking</i>

00:00:06.500 --> 00:00:09.250
<v.loud Neil deGrasse Tyson>Thank you &amp; welcome

00:00:09.250 --> 00:00:12.000
Untagged narrator line
"""


def test_vtt_voice_tags_and_merging(tmp_path: Path) -> None:
    doc = parse_file(write(tmp_path / "talk.vtt", VTT))
    assert [(u.text, u.provenance) for u in doc.units] == [
        (
            "We are in New York City and we’re going to be talking",
            Provenance(speaker="Roger Bingham", start_s=1.0, end_s=6.5),
        ),
        ("Thank you & welcome", Provenance(speaker="Neil deGrasse Tyson", start_s=6.5, end_s=9.25)),
        ("Untagged narrator line", Provenance(start_s=9.25, end_s=12.0)),
    ]


def test_long_turns_are_cut_at_about_90_seconds(tmp_path: Path) -> None:
    def at(seconds: int) -> str:
        return f"00:{seconds // 60:02d}:{seconds % 60:02d},000"

    # One speaker for four minutes: cues of 29 s, every 30 s, after a stray blank line.
    cues = "\n" + "".join(
        f"{i + 1}\n{at(30 * i)} --> {at(30 * i + 29)}\nSentence {i}.\n\n" for i in range(8)
    )
    doc = parse_file(write(tmp_path / "lecture.srt", cues))
    assert [(u.provenance.start_s, u.provenance.end_s) for u in doc.units] == [
        (0.0, 89.0),
        (90.0, 179.0),
        (180.0, 239.0),
    ]
    assert doc.units[0].text == "Sentence 0. Sentence 1. Sentence 2."


SRT = """1
00:00:00,500 --> 00:00:02,000
ALICE: <i>Did you see</i> the report?

2
00:00:02,000 --> 00:00:03,000
{\\an8}Bob: Yes,
this morning.

3
00:00:03,000 --> 00:00:04,000
Bob: It looks good.
"""


def test_srt_speaker_labels_and_tags(tmp_path: Path) -> None:
    path = tmp_path / "meeting.srt"
    path.write_bytes(codecs.BOM_UTF8 + SRT.replace("\n", "\r\n").encode("utf-8"))
    doc = parse_file(path)
    assert [(u.text, u.provenance) for u in doc.units] == [
        ("Did you see the report?", Provenance(speaker="ALICE", start_s=0.5, end_s=2.0)),
        ("Yes, this morning. It looks good.", Provenance(speaker="Bob", start_s=2.0, end_s=4.0)),
    ]


def test_subtitles_without_cues_or_malformed(tmp_path: Path) -> None:
    not_srt = write(tmp_path / "none.srt", "not a subtitle file\n")
    assert reason(not_srt) == "malformed SRT: Invalid format"
    assert reason(write(tmp_path / "bad.vtt", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n\n")) == (
        "empty: no text"
    )


def test_transcript_header_fields_and_french_colons(tmp_path: Path) -> None:
    transcript = (
        "Entretien - transcription\n"
        "Participants : Sophie Nguyen ; Claire Dubois\n"
        "Date : 27 juin 2023\n\n"
        "Claire Dubois : Bonjour Sophie, que fait Infilia ?\n"
        "Sophie Nguyen : Nous coordonnons l'hôpital et les infirmiers libéraux.\n"
        "Claire Dubois\u00a0: Et les appels ?\n"
        "Sophie Nguyen\u00a0: Nous les rendons inutiles.\n"
    )
    doc = parse_file(write(tmp_path / "entretien.txt", transcript))
    assert doc.units[0].provenance == Provenance()
    assert "Date : 27 juin 2023" in doc.units[0].text  # a header field, not a speaker
    assert [u.provenance for u in doc.units[1:]] == [
        Provenance(speaker="Sophie Nguyen", section="Bonjour Sophie, que fait Infilia ?"),
        Provenance(speaker="Sophie Nguyen", section="Et les appels ?"),
    ]


def test_subtitles_and_transcripts_say_their_own_title(tmp_path: Path) -> None:
    vtt = ("WEBVTT - Remote monitoring in rural Aragon\n\n00:00:01.000 --> 00:00:03.000\n"
           "<v Ana Ruiz>¿Cómo empezó el programa?\n")
    assert parse_file(write(tmp_path / "talk.vtt", vtt)).heading == (
        "Remote monitoring in rural Aragon")
    noted = ("WEBVTT\n\nNOTE\nTitle: Weight alerts in Lyon\nRecorded 2024-03-12\n\n"
             "00:00:01.000 --> 00:00:03.000\nBonjour.\n")
    assert parse_file(write(tmp_path / "noted.vtt", noted)).heading == "Weight alerts in Lyon"
    transcript = ("Titre : Télésurveillance à Nantes\nDate : 27 juin 2023\n\n"
                  "Claire Dubois : Bonjour Sophie.\nSophie Nguyen : Bonjour.\n"
                  "Claire Dubois : Combien de patients ?\nSophie Nguyen : Quatre cents.\n")
    assert parse_file(write(tmp_path / "entretien.txt", transcript)).heading == (
        "Télésurveillance à Nantes")
    untitled = "1\n00:00:01,000 --> 00:00:02,000\nHello\n"
    assert parse_file(write(tmp_path / "lecture.srt", untitled)).heading is None
