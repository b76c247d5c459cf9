"""Hybrid retrieval: exact names, phrases, short queries, filters on both sides,
highlighted snippets, the keyword index kept in step, and the re-ranking stage."""

from __future__ import annotations

from pathlib import Path

import pytest
from sentence_transformers import CrossEncoder

from search.embedding.models import resolve_model
from search.knowledge_base import KnowledgeBase
from search.records import DocType, Filters, NewChunk, SearchMode
from tests.helpers import meta

DOCS = [
    ("Boston", "en", ["Kardiora's patch streams ECG data to the cardiology team every hour.",
                      "The pilot followed regulation EU 2017/745 for medical devices."]),
    ("Paris", "fr", ["La télésurveillance des patients insuffisants cardiaques réduit les "
                     "réhospitalisations.",
                     "Le dispositif Kardiora est remboursé par le programme ETAPES."]),
    ("Berlin", "de", ["Die App erinnert Patienten an ihre Medikamente.",
                      "Herzinsuffizienz wird per Telemonitoring aus der Ferne überwacht."]),
    ("Boston", "en", ["Remote monitoring of heart failure patients cut readmissions.",
                      "Nurses call within a day when a weight-gain alert fires."]),
]


@pytest.fixture(scope="module")
def written(settings_for, encoder) -> KnowledgeBase:
    """DOCS, embedded and published once for the module; no test changes this one."""
    kb = KnowledgeBase(settings_for("hybrid-docs"), encoder)
    with kb.writer() as writer:
        for i, (office, language, texts) in enumerate(DOCS):
            writer.put(meta(i, office, language, DocType.report, "2024-01-01", "".join(texts)),
                       [NewChunk(text=t, language=language) for t in texts],
                       kb.encoder.encode_documents(texts))
    return kb


@pytest.fixture
def filled(written: KnowledgeBase, copy_kb) -> KnowledgeBase:
    """A knowledge base holding DOCS, the test's own to change."""
    return copy_kb(written)


def texts(hits) -> list[str]:
    return [h.text for h in hits]


def test_an_exact_name_is_found_by_keywords_and_kept_by_hybrid(filled: KnowledgeBase) -> None:
    lexical = texts(filled.search("Kardiora", k=2, mode=SearchMode.lexical))
    assert all("Kardiora" in t for t in lexical) and len(lexical) == 2
    hybrid = texts(filled.search("Kardiora", k=2, mode=SearchMode.hybrid))
    assert all("Kardiora" in t for t in hybrid) and len(hybrid) == 2
    assert "2017/745" in filled.search("2017/745", k=1)[0].text


def test_cross_language_meaning_still_comes_from_the_dense_side(filled: KnowledgeBase) -> None:
    assert filled.search("heart failure remote monitoring", k=5, mode=SearchMode.lexical)
    french = "télésurveillance insuffisance cardiaque"
    hits = filled.search(french, k=6)
    english = [h for h in hits if h.language == "en"]
    # Boston's English finding: the first English hit, or folded into the top hit as the
    # translation of the French one (a near-duplicate across languages)
    assert ("heart failure" in english[0].text if english else False) or \
        "Boston" in {d.office for d in hits[0].also_in}
    assert filled.search(french, Filters(office=["Berlin"]), k=1)[0].document.office == "Berlin"


def test_phrases_must_match_as_written_in_every_mode(filled: KnowledgeBase) -> None:
    for mode in SearchMode:
        hits = filled.search('"heart failure" patients', k=10, mode=mode)
        assert texts(hits) == ["Remote monitoring of heart failure patients cut readmissions."]
    assert filled.search('"failure heart"', k=10) == []


def test_filters_apply_to_both_lists_so_k_fills(filled: KnowledgeBase) -> None:
    for mode in SearchMode:
        hits = filled.search("patients", Filters(office=["Boston"]), k=4, mode=mode)
        assert {h.document.office for h in hits} == {"Boston"}
        if mode != SearchMode.lexical:
            assert len(hits) == 4


def test_short_queries_and_stemming(filled: KnowledgeBase) -> None:
    assert "weight-gain alert" in filled.search("alerts", k=1, mode=SearchMode.lexical)[0].text
    assert filled.search("ECG", k=1)[0].text.startswith("Kardiora")
    assert filled.search("x", k=3)  # one letter still answers (from the dense side)


def test_snippets_highlight_the_query_terms_as_written(filled: KnowledgeBase) -> None:
    hit = filled.search("monitor readmission", k=1, mode=SearchMode.lexical)[0]
    marked = [hit.snippet[a:b] for a, b in hit.highlights]
    assert marked == ["monitoring", "readmissions"]
    french = filled.search("telesurveillance", k=1, mode=SearchMode.lexical)[0]
    assert [french.snippet[a:b] for a, b in french.highlights] == ["télésurveillance"]


def test_deleted_chunks_leave_the_keyword_index(filled: KnowledgeBase) -> None:
    for mode in SearchMode:  # the probe finds the chunk while it is there
        assert any("ECG" in t for t in texts(filled.search("Kardiora ECG", k=10, mode=mode)))
    with filled.writer() as writer:
        writer.delete("/docs/0.txt")
    for mode in SearchMode:
        assert all("ECG" not in t for t in texts(filled.search("Kardiora ECG", k=10, mode=mode)))
    with filled.database.connect() as db:
        chunks = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        assert filled.terms.count(db) == len(filled.generation().keywords) == chunks == 6


@pytest.fixture(scope="module")
def cross_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real CrossEncoder folder: the local model with a fresh one-logit head.

    No trained re-ranker ships offline; this one scores arbitrarily, which is
    enough to check that its scores, not the first stage's, decide the order.
    """
    from search.settings import Settings

    settings = Settings()
    path = tmp_path_factory.mktemp("reranker")
    CrossEncoder(resolve_model(settings.model, settings.cache_dir), num_labels=1).save(str(path))
    return path


def test_the_cross_encoder_orders_the_top_hits(written: KnowledgeBase, copy_kb,
                                               cross_encoder_dir: Path) -> None:
    kb = copy_kb(written, "rerank", reranker_path=cross_encoder_dir, rerank_depth=3)
    query = "heart failure monitoring"
    hits = kb.search(query, k=5)
    model = CrossEncoder(str(cross_encoder_dir))
    predicted = model.predict([(query, h.text) for h in hits])
    # the first hits carry the cross-encoder's scores, in its order (of the top 3 re-ranked,
    # one may be folded into another as its near-duplicate)
    reranked = [h.score for h, p in zip(hits, predicted, strict=True)
                if h.score == pytest.approx(float(p), abs=1e-4)]
    assert len(reranked) >= 2 and [h.score for h in hits[:len(reranked)]] == reranked
    assert reranked == sorted(reranked, reverse=True)
    assert len(hits) == 5


def test_a_missing_reranker_path_is_a_clear_error(settings_for, encoder, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="is not a model folder"):
        KnowledgeBase(settings_for("bad", reranker_path=tmp_path / "nope"), encoder)
