"""Keyword side of retrieval: analysis per language and BM25 search over FTS5."""

from __future__ import annotations

import sqlite3
import threading
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest

from search.lexical import (
    Analyzer,
    LexicalIndex,
    ParsedQuery,
    contains_phrase,
    parse_query,
)
from search.schema import CHUNK_TERMS


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer()


# --- analysis --------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "one", "other"),
    [
        ("en", "monitoring", "monitored"),
        ("fr", "surveillances", "surveillance"),
        ("de", "Überwachungen", "Überwachung"),
        ("es", "monitorización", "monitorizados"),
        ("it", "pazienti", "paziente"),
        ("pt", "pacientes", "paciente"),
        ("nl", "ziekenhuizen", "ziekenhuis"),
    ],
)
def test_inflections_meet_on_one_stem(analyzer, language, one, other):
    assert analyzer.terms(one, language) == analyzer.terms(other, language)
    assert len(analyzer.terms(one, language)) == 1


def test_stemming_depends_on_the_language(analyzer):
    assert analyzer.terms("monitoring", "en") == ["monitor"]
    # No language: nothing is stemmed, so the inflections stay apart.
    assert analyzer.terms("monitoring", None) == ["monitoring"]
    assert analyzer.terms("monitoring", None) != analyzer.terms("monitored", None)


def test_language_code_variants_are_recognised(analyzer):
    assert analyzer.terms("monitoring", "en-US") == ["monitor"]
    assert analyzer.terms("monitoring", "EN") == ["monitor"]


@pytest.mark.parametrize("language", [None, "", "xx", "tlh"])
def test_unknown_language_only_lowercases_and_folds(analyzer, language):
    assert analyzer.terms("The Cafés of Monitoring", language) == [
        "the", "cafes", "of", "monitoring",
    ]


def test_stop_words_are_removed(analyzer):
    assert analyzer.terms("the monitoring of the patients", "en") == ["monitor", "patient"]
    assert analyzer.terms("la surveillance des patients", "fr") == ["surveil", "patient"]
    assert analyzer.terms("die Überwachung der Patienten", "de") == ["uberwach", "patient"]
    assert "de" not in analyzer.terms("monitorización de pacientes", "es")


def test_accents_are_folded_so_spellings_meet(analyzer):
    accented = analyzer.terms("télésurveillance", "fr")
    assert accented == analyzer.terms("telesurveillance", "fr")
    assert accented == analyzer.terms("TÉLÉSURVEILLANCE", "fr")
    decomposed = unicodedata.normalize("NFD", "télésurveillance")
    assert analyzer.terms(decomposed, "fr") == accented
    assert all(t.isascii() for t in accented)


def test_codes_and_numbers_are_kept_as_tokens(analyzer):
    assert analyzer.terms("EU 2017/745", "en") == ["eu", "2017", "745"]
    assert analyzer.terms("covid-19 (2020)", None) == ["covid", "19", "2020"]
    assert analyzer.terms("snake_case", None) == ["snake", "case"]


def test_stop_word_only_text_still_yields_terms(analyzer):
    assert analyzer.terms("the who", "en") == ["the", "who"]
    assert analyzer.terms("The", "en") == ["the"]
    assert analyzer.terms("le la les", "fr") != []


def test_text_without_words_yields_no_terms(analyzer):
    for text in ["", "   ", "!!! ... ---", "😀🚀", '"()*:-']:
        assert analyzer.terms(text, "en") == []


def test_non_latin_words_stay_whole(analyzer):
    # Devanagari vowel signs are combining marks; the word must not be cut there.
    assert len(analyzer.terms("नमस्ते दुनिया", "hi")) == 2
    assert analyzer.terms("中文", None) == ["中文"]


def test_analyzer_is_safe_across_threads(analyzer):
    expected = analyzer.terms("surveillances monitoring Überwachungen", "fr")
    results: list[list[str]] = []

    def work() -> None:
        for _ in range(200):
            results.append(analyzer.terms("surveillances monitoring Überwachungen", "fr"))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 800
    assert all(r == expected for r in results)


# --- query parsing -----------------------------------------------------------


def test_parse_query_straight_quotes():
    parsed = parse_query('remote "heart failure" alerts')
    assert parsed == ParsedQuery(text="remote heart failure alerts", phrases=("heart failure",))


def test_parse_query_typographic_quotes():
    parsed = parse_query("“ heart failure ” and « insuffisance  cardiaque » „Herz“")
    assert parsed.phrases == ("heart failure", "insuffisance cardiaque", "Herz")
    assert parsed.text == "heart failure and insuffisance cardiaque Herz"
    assert not any(q in parsed.text for q in "“”«»„")


def test_parse_query_unbalanced_quote_is_plain_text():
    parsed = parse_query('"heart failure" "weight gain')
    assert parsed.phrases == ("heart failure",)
    assert parsed.text == "heart failure weight gain"
    assert parse_query('weight "gain').phrases == ()


def test_parse_query_drops_empty_phrases_and_keeps_words_apart():
    assert parse_query('"" x').phrases == ()
    assert parse_query('a"b"c').text == "a b c"
    assert parse_query("plain query") == ParsedQuery("plain query", ())


# --- exact phrases -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "phrase", "expected"),
    [
        ("Heart  failure.", "heart failure", True),
        ("chronic heart\nfailure clinic", "heart failure", True),
        ("heartfailure", "heart failure", False),
        ("heart failures", "heart failure", False),
        ("sweetheart failure", "heart failure", False),
        ("failure of the heart", "heart failure", False),
        ("Le résumé du projet", "résumé", True),
        ("LE RÉSUMÉ DU PROJET", "résumé", True),
        ("Le resume du projet", "résumé", False),
        ("Le résumé du projet", "resume", False),
        (unicodedata.normalize("NFD", "télésurveillance"), "Télésurveillance", True),
        ("under (EU) 2017/745 rules", "(EU) 2017/745", True),
        ("under EU 2017/745 rules", "(EU) 2017/745", False),
        ("a.b", "a.b", True),
    ],
)
def test_contains_phrase(text, phrase, expected):
    assert contains_phrase(text, phrase) is expected


# --- FTS5 index ---------------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(tmp_path / "kb.sqlite3")
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA synchronous = OFF")  # durability is not under test; keeps tests fast
    conn.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE documents (id INTEGER PRIMARY KEY AUTOINCREMENT, office TEXT,
            region TEXT, doc_type TEXT, language TEXT, date TEXT);
        CREATE TABLE chunks (id INTEGER PRIMARY KEY AUTOINCREMENT,
            document_id INTEGER NOT NULL, ordinal INTEGER NOT NULL,
            text TEXT NOT NULL, language TEXT);
        """
    )
    conn.execute(CHUNK_TERMS)
    yield conn
    conn.close()


@pytest.fixture
def index(analyzer: Analyzer) -> LexicalIndex:
    return LexicalIndex(analyzer)


def add_document(
    db: sqlite3.Connection,
    index: LexicalIndex,
    texts: list[str],
    language: str | None = "en",
    office: str = "Boston",
) -> list[int]:
    """Insert a document with one chunk per text, index them; return chunk ids."""
    doc_id = db.execute(
        "INSERT INTO documents(office, region, doc_type, language) VALUES (?, 'US', 'report', ?)",
        (office, language),
    ).lastrowid
    ids = []
    for ordinal, text in enumerate(texts):
        ids.append(
            db.execute(
                "INSERT INTO chunks(document_id, ordinal, text, language) VALUES (?, ?, ?, ?)",
                (doc_id, ordinal, text, language),
            ).lastrowid
        )
    index.add(db, [(i, t, language) for i, t in zip(ids, texts, strict=True)])
    return ids


def ids_of(hits: list[tuple[int, float]]) -> list[int]:
    return [chunk_id for chunk_id, _ in hits]


def test_schema_statement_is_idempotent(db, index):
    index.reanalyse_if_changed(db)
    db.execute(CHUNK_TERMS)
    assert index.count(db) == 0


def test_add_search_and_count(db, index):
    ids = add_document(db, index, [
        "Remote monitoring reduced readmissions for heart failure patients.",
        "The coaching app improved retention in the first month.",
        "Pricing of the pitch deck was discussed.",
    ])
    assert index.count(db) == 3
    hits = index.search(db, "monitored readmission", ["en"], k=5)
    assert ids_of(hits) == [ids[0]]
    assert hits[0][1] > 0
    assert ids_of(index.search(db, "coaching retention", ["en"], k=5)) == [ids[1]]


def test_query_and_chunk_languages_are_analysed_separately(db, index):
    fr = add_document(db, index, ["La télésurveillance des patients selon le règlement "
                                  "EU 2017/745."], language="fr", office="Paris")
    # Unaccented French query finds the accented chunk; a number meets across languages.
    assert ids_of(index.search(db, "telesurveillances", ["fr"], k=5)) == fr
    assert ids_of(index.search(db, "regulation 2017/745", ["en"], k=5)) == fr


def test_delete_removes_chunks_from_results(db, index):
    ids = add_document(db, index, ["heart failure alerts", "heart failure weight gain"])
    index.delete(db, [ids[0]])
    assert index.count(db) == 1
    assert ids_of(index.search(db, "heart failure alerts", ["en"], k=10)) == [ids[1]]
    index.delete(db, [ids[1], 9999])
    assert index.search(db, "heart failure", ["en"], k=10) == []
    assert index.count(db) == 0


def test_re_adding_a_chunk_replaces_its_terms(db, index):
    (chunk_id,) = add_document(db, index, ["coaching app"])
    index.add(db, [(chunk_id, "pricing model", "en")])
    assert index.count(db) == 1
    assert index.search(db, "coaching", ["en"], k=5) == []
    assert ids_of(index.search(db, "pricing", ["en"], k=5)) == [chunk_id]


def test_where_filter_applies_before_limit(db, index):
    # Boston's chunks mention the term more often, so they outrank Paris's.
    add_document(db, index, ["telemonitoring telemonitoring telemonitoring"] * 10,
                 office="Boston")
    paris = add_document(db, index, ["telemonitoring of patients at home"] * 3,
                         office="Paris")
    unfiltered = index.search(db, "telemonitoring", ["en"], k=3)
    assert not set(ids_of(unfiltered)) & set(paris)
    hits = index.search(db, "telemonitoring", ["en"], k=3, where="d.office = ?",
                        params=["Paris"])
    assert sorted(ids_of(hits)) == paris
    hits = index.search(db, "telemonitoring", ["en"], k=10,
                        where="d.office IN (?, ?) AND c.ordinal < ?",
                        params=("Paris", "Nowhere", 2))
    assert sorted(ids_of(hits)) == paris[:2]


def test_phrase_query_returns_only_exact_phrase_chunks(db, index):
    exact, reversed_, inflected, unrelated = add_document(db, index, [
        "Our heart failure clinic sends weight alerts.",
        "Failure of the heart was rare.",
        "Heart failures were tracked.",
        "Weight alerts for diabetes.",
    ])
    assert ids_of(index.search(db, '"heart failure"', ["en"], k=10)) == [exact]
    # Free words still rank, but the phrase is required.
    assert ids_of(index.search(db, 'weight alerts “heart failure”', ["en"], k=10)) == [exact]
    assert reversed_ and inflected and unrelated
    assert index.search(db, '"heart failure" "insulin pump"', ["en"], k=10) == []


def test_phrase_verification_pages_past_decoys(db, index):
    # 60 decoys hold both words (higher BM25) but never as the phrase; k must still fill.
    add_document(db, index, ["heart and failure, heart and failure, heart and failure"] * 60)
    (real,) = add_document(db, index, [
        "In the cardiology review we discussed heart failure among many other topics "
        "such as arrhythmia, hypertension, valves and rehabilitation programmes."
    ])
    assert ids_of(index.search(db, '"heart failure"', ["en"], k=1)) == [real]


def test_ranking_prefers_more_matching_rare_terms(db, index):
    common = ["patient follow-up notes"] * 6
    add_document(db, index, common)
    one, two = add_document(db, index, [
        "patient telemonitoring notes",
        "patient telemonitoring cardiomyopathy notes",
    ])
    hits = index.search(db, "patient telemonitoring cardiomyopathy", ["en"], k=10)
    assert ids_of(hits)[:2] == [two, one]
    scores = [score for _, score in hits]
    assert len(hits) == 8
    assert all(s > 0 for s in scores)
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize(
    "query",
    [
        "heart AND failure",
        "heart OR failure NOT alerts",
        "NEAR(heart failure, 2)",
        "heart*",
        "-heart",
        "terms:heart",
        "{terms}: heart",
        "^heart",
        '"heart',
        'heart"',
        '""',
        '"" "',
        "(heart failure",
        "heart) failure(",
        "AND",
        "OR NOT NEAR",
        "😀 🚀",
        "***",
        "'; DROP TABLE chunks; --",
        "heart + failure",
        "",
        "   ",
        "the",
        '"the"',
        '"😀"',
    ],
)
def test_hostile_queries_never_raise(db, index, query):
    ids = add_document(db, index, ["heart failure alerts"])
    hits = index.search(db, query, ["en"], k=5)
    assert isinstance(hits, list)
    assert set(ids_of(hits)) <= set(ids)
    assert index.search(db, query, [None], k=5) is not None
    assert index.count(db) == 1  # nothing was dropped or rewritten


def test_operator_words_are_searched_as_words(db, index):
    near, other = add_document(db, index, ["The store near the station", "heart failure"],
                               language=None)
    assert ids_of(index.search(db, "NEAR", [None], k=5)) == [near]
    assert ids_of(index.search(db, "heart*", [None], k=5)) == [other]


def test_empty_query_and_non_positive_k_return_nothing(db, index):
    add_document(db, index, ["heart failure alerts"])
    assert index.search(db, "!!!", ["en"], k=5) == []
    assert index.search(db, "heart", ["en"], k=0) == []


def test_match_expression_quotes_every_term(index):
    expression, phrases = index.match_expression('NEAR alerts "heart failure"', ["en"])
    assert expression == '("near" OR "alert" OR "heart" OR "failur") AND ("heart" AND "failur")'
    expression, _ = index.match_expression("NEAR(a b) OR c*", [None])
    assert expression == '("near" OR "a" OR "b" OR "or" OR "c")'
    assert phrases == ("heart failure",)
    assert index.match_expression("*** :: ()", ["en"]) == ("", ())


def test_terms_written_by_another_analysis_are_rebuilt(db: sqlite3.Connection,
                                                       index: LexicalIndex) -> None:
    index.reanalyse_if_changed(db)
    db.execute("INSERT INTO documents(office) VALUES ('Boston')")
    db.execute("INSERT INTO chunks(document_id, ordinal, text, language)"
               " VALUES (1, 0, 'High effect of early monitoring', 'en')")
    db.execute("INSERT INTO chunk_terms(rowid, terms) VALUES (1, 'monitor')")  # an old analysis
    assert index.search(db, "high effect", ["en"], k=5) == []
    db.execute("UPDATE meta SET value = 'old' WHERE key = 'lexical_analysis'")
    index.reanalyse_if_changed(db)
    assert [i for i, _ in index.search(db, "high effect", ["en"], k=5)] == [1]
    assert index.count(db) == 1


PARIS_NOTES = ["télésurveillance telemonitoring of patients at home",
               "telemonitoring nurses call after a weight alert",
               "coaching app retention in Lyon"]


def narrowed_to_paris(db, index, query: str) -> list[tuple[int, float]]:
    return index.search(db, query, ["en"], k=10, where="d.office IN (?)", params=["paris"],
                        narrowed=True)


def test_a_search_narrowed_to_offices_scores_as_bm25_over_them_alone(db, index, tmp_path):
    paris = add_document(db, index, PARIS_NOTES, office="paris")
    # over the whole table (only Paris so far) the narrowed scores are FTS5's own
    narrowed = narrowed_to_paris(db, index, "telemonitoring weight")
    fts5 = index.search(db, "telemonitoring weight", ["en"], k=10)
    assert ids_of(narrowed) == ids_of(fts5)
    assert [s for _, s in narrowed] == pytest.approx([s for _, s in fts5], rel=1e-6)
    before = narrowed_to_paris(db, index, "telemonitoring weight")
    assert ids_of(before) == [paris[1], paris[0]]
    # Boston adds chunks that hold the words: a Paris-narrowed search cannot tell
    add_document(db, index, ["telemonitoring telemonitoring weight"] * 7, office="Boston")
    assert narrowed_to_paris(db, index, "telemonitoring weight") == before
    open_scores = dict(index.search(db, "telemonitoring weight", ["en"], k=20))
    assert open_scores[paris[1]] != dict(before)[paris[1]]  # the open search's stats moved
    phrase = narrowed_to_paris(db, index, '"weight alert" telemonitoring')
    assert ids_of(phrase) == [paris[1]]
