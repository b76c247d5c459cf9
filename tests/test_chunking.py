"""Chunking follows the document's structure and keeps provenance."""

from __future__ import annotations

from itertools import pairwise

import pytest

from ingest.chunking import Chunker, clean_text, split_sentences
from ingest.document import ParsedDocument, Provenance, Unit


def words(text: str) -> int:
    """A deterministic token counter: one token per word."""
    return len(text.split())


@pytest.fixture
def chunker() -> Chunker:
    return Chunker(words, budget=20, overlap=6)


def test_each_structural_unit_that_fits_is_one_chunk(chunker: Chunker) -> None:
    doc = ParsedDocument(units=[
        Unit("Slide one title. Short body.", Provenance(slide=1, section="One")),
        Unit("Slide two body text here.", Provenance(slide=2, section="Two")),
    ])
    chunks = chunker.chunk(doc)
    assert [c.text for c in chunks] == ["Slide one title. Short body.", "Slide two body text here."]
    assert [c.provenance.slide for c in chunks] == [1, 2]
    assert chunks[0].n_tokens == 5


def test_long_unit_splits_at_sentences_with_overlap(chunker: Chunker) -> None:
    sentences = [f"Finding {i} about monitoring." for i in range(12)]
    doc = ParsedDocument(units=[Unit(" ".join(sentences), Provenance(page=3))])
    chunks = chunker.chunk(doc, "en")
    assert len(chunks) > 1
    assert all(c.n_tokens <= 20 for c in chunks)
    assert all(c.provenance.page == 3 for c in chunks)
    for chunk in chunks:  # never cut inside a sentence
        assert chunk.text.startswith("Finding") and chunk.text.endswith("monitoring.")
    # the last sentence of a chunk opens the next one (overlap of whole sentences)
    for first, second in pairwise(chunks):
        assert second.text.startswith(first.text.rsplit("Finding", 1)[-1].join(["Finding", ""]))
    joined = " ".join(c.text for c in chunks)
    assert all(s in joined for s in sentences)


def test_sentence_over_budget_is_cut_between_words(chunker: Chunker) -> None:
    doc = ParsedDocument(units=[Unit(" ".join(f"w{i}" for i in range(50)))])
    chunks = chunker.chunk(doc)
    assert [c.n_tokens for c in chunks] == [20, 20, 10]
    assert chunks[0].text.split()[0] == "w0" and chunks[-1].text.split()[-1] == "w49"


def test_transcript_cues_pack_into_question_and_answer_chunks(chunker: Chunker) -> None:
    speakers = ["Q", "Dr Lee", "Dr Lee", "Dr Lee", "Q", "Dr Lee", "Dr Lee"] + ["Dr Lee"] * 8
    cues = [Unit(f"cue {i} text", Provenance(speaker=who, start_s=10.0 * i, end_s=10.0 * i + 9))
            for i, who in enumerate(speakers)]
    chunks = chunker.chunk(ParsedDocument(units=cues))
    # a question opens each chunk; a long answer continues in a chunk of its own (budget 20)
    assert [c.text.split("\n")[0] for c in chunks] == ["cue 0 text", "cue 4 text", "cue 10 text"]
    assert chunks[0].provenance.start_s == 0.0 and chunks[0].provenance.end_s == 39.0
    assert chunks[0].provenance.speaker == "Q, Dr Lee"
    assert chunks[2].provenance.speaker == "Dr Lee" and chunks[2].provenance.end_s == 149.0
    assert all(c.n_tokens <= 20 for c in chunks)


def test_empty_units_are_dropped_and_whitespace_cleaned(chunker: Chunker) -> None:
    doc = ParsedDocument(units=[Unit("   \n\n  "), Unit("a  \t b\n\n\n\nc")])
    assert [c.text for c in chunker.chunk(doc)] == ["a b\n\nc"]
    assert clean_text("x\u00a0\u00a0y") == "x y"


def test_sentence_splitting_knows_abbreviations_per_language() -> None:
    assert split_sentences("Dr. Smith saw 12 patients, e.g. in Boston. Then he left.", "en") == [
        "Dr. Smith saw 12 patients, e.g. in Boston.", "Then he left."]
    german = "Der Patient, z. B. Herr Müller, kam am 3. Mai. Dann ging er."
    assert split_sentences(german, "de") == [
        "Der Patient, z. B. Herr Müller, kam am 3. Mai.", "Dann ging er."]


def test_short_paragraphs_of_one_place_are_packed_but_places_stay_apart(chunker: Chunker) -> None:
    doc = ParsedDocument(units=[
        Unit("First short paragraph."), Unit("Second short paragraph."),
        Unit("Under a heading.", Provenance(section="Results")),
        Unit("Still results.", Provenance(section="Results")),
        Unit("Slide text.", Provenance(slide=1, section="Results")),
    ])
    assert [(c.text, c.provenance.section) for c in chunker.chunk(doc)] == [
        ("First short paragraph.\n\nSecond short paragraph.", None),
        ("Under a heading.\n\nStill results.", "Results"),
        ("Slide text.", "Results"),
    ]
