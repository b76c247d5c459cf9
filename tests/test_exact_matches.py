"""Exact matches first: a name, a code or an invented word that few chunks hold puts those
chunks first in the default (hybrid) mode, whatever their language."""

from __future__ import annotations

import pytest

from search.fusion import FusionWeights, decisive_matches, fuse
from search.knowledge_base import KnowledgeBase
from search.naming import names_something
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
                        exact_match_chunks=5)


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
    coin_toss = [(i, 6.0 - i / 10) for i in range(20)]
    assert decisive_matches(coin_toss, 1.5, 5) == []
    # when no more than ``most`` chunks hold any of the words, they are the exact matches
    assert decisive_matches([(7, 6.0), (8, 5.0), (9, 4.5)], 1.5, 5) == [7, 8, 9]
    assert decisive_matches([(i, 10.0) for i in range(6)] + [(9, 1.0)], 1.5, 5) == []
    assert decisive_matches([(7, 6.0), (9, 2.0)], 0.0, 5) == []  # the rule turned off


def test_only_a_query_that_names_something_lets_a_keyword_match_lead() -> None:
    dense = [(1, 0.9), (2, 0.8), (3, 0.7)]
    lexical = [(3, 20.0), (2, 5.0)]
    languages = {1: "fr", 2: "en", 3: "en"}
    assert fuse(dense, lexical, languages, "en", True, WEIGHTS)[0][0] == 3
    assert fuse(dense, lexical, languages, "en", False, WEIGHTS)[0][0] == 1  # ranks decide


def test_a_keyword_match_in_another_language_than_the_querys_never_leads() -> None:
    """A word spelled alike in two languages ("but", "mis") is no exact match."""
    dense = [(1, 0.9), (2, 0.8)]
    lexical = [(2, 7.0)]
    assert fuse(dense, lexical, {1: "fr", 2: "fr"}, "en", True, WEIGHTS)[0][0] == 1
    assert fuse(dense, lexical, {1: "fr", 2: "fr"}, None, True, WEIGHTS)[0][0] == 2


@pytest.mark.parametrize(("words", "named"), [
    (["Zorvexin"], True), (["KB-4471-X", "results"], True), (["HomeBeat", "Series"], True),
    (["Tesla"], False), (["but", "wait"], False),
    (["Zorvexin", "trial", "readmissions", "heart", "failure", "Boston"], False)])
def test_a_query_names_something_with_a_rare_word_or_a_code_in_few_words(
        words: list[str], named: bool) -> None:
    assert names_something(words, ["en", "fr", "de", "es"], 4) is named
