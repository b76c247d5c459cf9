"""Metadata precedence: CLI > sidecar > manifest > front matter > folder > file itself."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from ingest.document import ParsedDocument, Unit
from ingest.metadata import MetadataError, resolve_metadata
from search.records import DocType

REGIONS = {"paris": "EU", "boston": "US"}


def write_yaml(path: Path, data: dict) -> None:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")


@pytest.fixture
def note(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus" / "paris" / "notes"
    folder.mkdir(parents=True)
    path = folder / "visit.md"
    path.write_text("# Visit\ntext", encoding="utf-8")
    return path


def parsed(front: dict | None = None, **file_metadata: object) -> ParsedDocument:
    return ParsedDocument(units=[Unit("A sentence, not a title.")], file_metadata=file_metadata,
                          front_matter=front or {})


def test_folder_convention_gives_office_type_and_region(note: Path) -> None:
    meta = resolve_metadata(note, parsed(), "fr", office_regions=REGIONS)
    assert (meta.office, meta.doc_type, meta.region, meta.language) == (
        "Paris", DocType.other, "EU", "fr")
    assert meta.title == "Visit"  # the file name, the last resort
    assert len(meta.content_hash) == 64 and meta.source_path == str(note.resolve())


def test_file_itself_is_below_front_matter(note: Path) -> None:
    meta = resolve_metadata(note, parsed({"title": "Front"}, title="Own", author="A. Own"), "fr")
    assert meta.title == "Front" and meta.author == "A. Own"


def test_each_source_overrides_the_ones_below(note: Path) -> None:
    front = {"title": "Front title", "date": "2024-01-10", "author": "Front Author",
             "team": "Front team", "office": "Front office"}
    assert resolve_metadata(note, parsed(front), None).date == dt.date(2024, 1, 10)

    write_yaml(note.parents[1] / "_manifest.yaml", {
        "office": "Paris", "team": "Manifest team",
        "files": {"notes/visit.md": {"date": "2024-01-20", "doc_type": "report"}},
    })
    meta = resolve_metadata(note, parsed(front), None)
    assert (meta.office, meta.team, meta.date, meta.doc_type) == (
        "Paris", "Manifest team", dt.date(2024, 1, 20), DocType.report)
    assert meta.title == "Front title" and meta.author == "Front Author"

    write_yaml(note.with_name("visit.md.meta.yaml"), {"date": "2024-02-01", "title": "Sidecar"})
    meta = resolve_metadata(note, parsed(front), None)
    assert (meta.date, meta.title, meta.team) == (dt.date(2024, 2, 1), "Sidecar", "Manifest team")

    meta = resolve_metadata(note, parsed(front), None, overrides={"office": "Berlin"},
                            office_regions={"berlin": "EU"})
    assert (meta.office, meta.region, meta.date) == ("Berlin", "EU", dt.date(2024, 2, 1))


def test_doc_type_aliases_and_format_defaults(tmp_path: Path) -> None:
    deck = tmp_path / "deck.pptx"
    deck.write_bytes(b"x")
    assert resolve_metadata(deck, parsed(), None).doc_type == DocType.pitch_deck
    write_yaml(tmp_path / "deck.pptx.meta.yaml", {"type": "Pitch Deck"})
    assert resolve_metadata(deck, parsed(), None).doc_type == DocType.pitch_deck
    write_yaml(tmp_path / "deck.pptx.meta.yaml", {"doc_type": "reports"})
    assert resolve_metadata(deck, parsed(), None).doc_type == DocType.report


def test_broken_sidecar_is_a_clear_error(note: Path) -> None:
    note.with_name("visit.md.meta.yaml").write_text("title: [unclosed", encoding="utf-8")
    with pytest.raises(MetadataError, match=r"visit\.md\.meta\.yaml"):
        resolve_metadata(note, parsed(), None)


def test_control_characters_in_sidecars_and_overrides_never_reach_a_document(note: Path) -> None:
    write_yaml(note.with_name(note.name + ".meta.yaml"), {"title": "Lyon\x00 pilot\x1b[31m"})
    meta = resolve_metadata(note, parsed(), "fr", overrides={"team": "Scouting\x7f\n team"})
    assert (meta.title, meta.team) == ("Lyon pilot", "Scouting team")  # escapes too
