"""Exact matches first: a name, a code or an invented word that few chunks hold puts those
chunks first in the default (hybrid) mode, whatever their language."""

from __future__ import annotations

import pytest

from search.fusion import FusionWeights, decisive_matches, fuse
from search.knowledge_base import KnowledgeBase
from search.records import DocType, NewChunk
from tests.helpers import copy_data_dir, meta

PLANTED = {
    "Quarkblossom syndrome": ("en", "Quarkblossom syndrome was first described in this "
                                    "cohort of patients with chronic fatigue."),
    "Zorvexin": ("fr", "Les patients du second bras ont aussi reçu du Zorvexin à dose fixe."),
    "KB-4471-X": ("de", "Das Studiengerät wurde unter dem Code KB-4471-X registriert."),
    "Halmqvist-Oduya scale": ("en", "Severity was also graded on the Halmqvist-Oduya scale "
                                    "in the trial."),
}
WEIGHTS = FusionWeights(k=60, dense=1.0, lexical=1.0, exact_match_gap=1.5,
                        exact_match_chunks=5, exact_match_terms=4)


@pytest.fixture(scope="module")
def planted(ingested_corpus, settings_for, encoder) -> KnowledgeBase:
    """The sample corpus (its interviews, decks and reports hold "syndrome", "scale",
    "trial" and "code" many times), with one passage per invented name added."""
    settings = settings_for("exact-matches")
    copy_data_dir(ingested_corpus.data_dir, settings.data_dir)
    kb = KnowledgeBase(settings, encoder)
    with kb.writer() as writer:
        for i, (language, text) in enumerate(PLANTED.values()):
            writer.put(meta(1000 + i, "Boston" if language == "en" else "Paris", language,
                            DocType.report, "2024-01-01", text),
                       [NewChunk(text=text, language=language)],
                       kb.encoder.encode_documents([text]))
    return kb


@pytest.mark.parametrize("name", list(PLANTED))
def test_an_invented_name_puts_its_passage_first(planted: KnowledgeBase, name: str) -> None:
    first = planted.search(name, k=3)[0]
    assert first.text == PLANTED[name][1], [h.text for h in planted.search(name, k=3)]


def test_a_decisive_drop_selects_the_chunks_above_it() -> None:
    assert decisive_matches([(7, 6.0), (8, 5.6), (9, 2.9)], 1.5, 5) == [7, 8]
    assert decisive_matches([(7, 6.0)], 1.5, 5) == [7]  # nothing else holds the name
    assert decisive_matches([(7, 6.0), (8, 5.0), (9, 4.5)], 1.5, 5) == []  # a coin toss
    assert decisive_matches([(i, 10.0) for i in range(6)] + [(9, 1.0)], 1.5, 5) == []
    assert decisive_matches([(7, 6.0), (9, 2.0)], 0.0, 5) == []  # the rule turned off


def test_a_describing_query_is_fused_by_ranks_alone() -> None:
    dense = [(1, 0.9), (2, 0.8), (3, 0.7)]
    lexical = [(3, 20.0), (2, 5.0)]
    languages = {1: "fr", 2: "en", 3: "en"}
    named = fuse(dense, lexical, languages, "en", 2, WEIGHTS)
    described = fuse(dense, lexical, languages, "en", 9, WEIGHTS)
    assert named[0][0] == 3  # a decisive keyword match, in a short query
    assert described[0][0] == 2  # the same lists, in a query that describes: ranks decide


def test_the_keyword_side_judges_every_chunk_when_the_language_is_unknown() -> None:
    dense = [(1, 0.9), (2, 0.8)]
    lexical = [(2, 3.0), (1, 2.9)]
    languages = {1: "fr", 2: "en"}
    rules_off = FusionWeights(60, 1.0, 1.0, 0.0, 5, 4)
    # known and different languages: chunk 1 is credited its dense rank on the keyword side
    assert [i for i, _ in fuse(dense, lexical, languages, "en", 2, rules_off)] == [1, 2]
    # unknown query language: both sides judge both chunks, a tie broken by id
    unknown = fuse(dense, lexical, languages, None, 2, rules_off)
    assert unknown[0][1] == unknown[1][1]
