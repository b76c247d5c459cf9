"""Keyword side of retrieval: analysis per language, stored terms and BM25 search in Tantivy."""

from __future__ import annotations

import sqlite3
import threading
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from search.lexical import (
    Analyzer,
    KeywordIndex,
    KeywordSearch,
    ParsedQuery,
    Scope,
    StoredTerms,
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


# --- stored terms and the keyword index --------------------------------------


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


class Keywords:
    """A scratch database's stored terms, and searches over a keyword index built from them
    after every change, as a publish makes one."""

    def __init__(self, db: sqlite3.Connection, analyzer: Analyzer) -> None:
        self.db = db
        self.stored = StoredTerms(analyzer)
        self.keyword_search = KeywordSearch(self.stored, views_kept=4)
        self.generation = 0
        self.index = KeywordIndex.build([])

    def add(self, texts: list[str], language: str | None = "en",
            office: str = "Boston") -> list[int]:
        """Insert a document with one chunk per text and publish; return its chunk ids."""
        doc_id = self.db.execute(
            "INSERT INTO documents(office, region, doc_type, language)"
            " VALUES (?, 'US', 'report', ?)", (office, language)).lastrowid
        ids = [self.db.execute(
            "INSERT INTO chunks(document_id, ordinal, text, language) VALUES (?, ?, ?, ?)",
            (doc_id, ordinal, text, language)).lastrowid for ordinal, text in enumerate(texts)]
        self.stored.add(self.db, [(i, t, language) for i, t in zip(ids, texts, strict=True)])
        self._publish()
        return ids

    def delete(self, ids: list[int]) -> None:
        self.stored.delete(self.db, ids)
        self._publish()

    def _publish(self) -> None:
        self.stored.mark_changed(self.db)
        self.generation += 1
        self.index = KeywordIndex.build(StoredTerms.rows(self.db))

    def search(self, query: str, languages: tuple[str | None, ...] = ("en",), k: int = 10,
               scope: Scope | None = None, allowed: list[int] | None = None
               ) -> list[tuple[int, float]]:
        return self.keyword_search.search(
            self.db, self.index, self.generation, query, languages, k, scope,
            None if allowed is None else np.array(allowed, np.int64))


@pytest.fixture
def keywords(db: sqlite3.Connection, analyzer: Analyzer) -> Keywords:
    return Keywords(db, analyzer)


def ids_of(hits: list[tuple[int, float]]) -> list[int]:
    return [chunk_id for chunk_id, _ in hits]


def test_add_search_and_count(db, keywords):
    ids = keywords.add([
        "Remote monitoring reduced readmissions for heart failure patients.",
        "The coaching app improved retention in the first month.",
        "Pricing of the pitch deck was discussed.",
    ])
    assert StoredTerms.count(db) == len(keywords.index) == 3
    hits = keywords.search("monitored readmission")
    assert ids_of(hits) == [ids[0]]
    assert hits[0][1] > 0
    assert ids_of(keywords.search("coaching retention")) == [ids[1]]


def test_query_and_chunk_languages_are_analysed_separately(keywords):
    fr = keywords.add(["La télésurveillance des patients selon le règlement EU 2017/745."],
                      language="fr", office="Paris")
    # Unaccented French query finds the accented chunk; a number meets across languages.
    assert ids_of(keywords.search("telesurveillances", ("fr",))) == fr
    assert ids_of(keywords.search("regulation 2017/745")) == fr


def test_deleted_and_replaced_terms_leave_the_results(db, keywords):
    ids = keywords.add(["heart failure alerts", "heart failure weight gain"])
    keywords.delete([ids[0]])
    assert StoredTerms.count(db) == len(keywords.index) == 1
    assert ids_of(keywords.search("heart failure alerts")) == [ids[1]]
    keywords.stored.add(db, [(ids[1], "pricing model", "en")])  # re-adding replaces
    keywords.delete([9999])
    assert keywords.search("heart") == []
    assert ids_of(keywords.search("pricing")) == [ids[1]]


def test_an_updated_generation_is_a_copy_and_leaves_its_source(tmp_path, analyzer):
    stored = StoredTerms(analyzer)
    first = KeywordIndex.build([(1, "heart failur"), (2, "coach app")], tmp_path / "g1.tmp")
    KeywordIndex.save(tmp_path / "g1.tmp", tmp_path / "g1")
    second = KeywordIndex.updated(tmp_path / "g1", tmp_path / "g2", [1],
                                  [(3, " ".join(stored.analyzer.terms("heart rate", "en")))])
    assert [i for i, _ in second.search(["heart"], [], 10)] == [3]
    assert [i for i, _ in first.search(["heart"], [], 10)] == [1]
    assert [i for i, _ in KeywordIndex.open(tmp_path / "g1").search(["heart"], [], 10)] == [1]


def test_allowed_chunks_apply_before_the_limit_and_do_not_score(keywords):
    # Boston's chunks mention the term more often, so they outrank Paris's.
    keywords.add(["telemonitoring telemonitoring telemonitoring"] * 10, office="Boston")
    paris = keywords.add(["telemonitoring of patients at home"] * 3, office="Paris")
    open_hits = keywords.search("telemonitoring", k=3)
    assert not set(ids_of(open_hits)) & set(paris)
    allowed = keywords.search("telemonitoring", k=3, allowed=paris)
    assert sorted(ids_of(allowed)) == paris
    scores = dict(keywords.search("telemonitoring", k=20))
    assert [s for _, s in allowed] == pytest.approx([scores[i] for i in ids_of(allowed)])
    assert keywords.search("telemonitoring", allowed=[]) == []


def test_phrase_query_returns_only_exact_phrase_chunks(keywords):
    exact, reversed_, inflected, unrelated = keywords.add([
        "Our heart failure clinic sends weight alerts.",
        "Failure of the heart was rare.",
        "Heart failures were tracked.",
        "Weight alerts for diabetes.",
    ])
    assert ids_of(keywords.search('"heart failure"')) == [exact]
    # Free words still rank, but the phrase is required.
    assert ids_of(keywords.search('weight alerts “heart failure”')) == [exact]
    assert reversed_ and inflected and unrelated
    assert keywords.search('"heart failure" "insulin pump"') == []


def test_phrase_verification_pages_past_decoys(keywords):
    # 60 decoys hold both words (higher BM25) but never as the phrase; k must still fill.
    keywords.add(["heart and failure, heart and failure, heart and failure"] * 60)
    (real,) = keywords.add([
        "In the cardiology review we discussed heart failure among many other topics "
        "such as arrhythmia, hypertension, valves and rehabilitation programmes."
    ])
    assert ids_of(keywords.search('"heart failure"', k=1)) == [real]


def test_ranking_prefers_more_matching_rare_terms(keywords):
    keywords.add(["patient follow-up notes"] * 6)
    one, two = keywords.add([
        "patient telemonitoring notes",
        "patient telemonitoring cardiomyopathy notes",
    ])
    hits = keywords.search("patient telemonitoring cardiomyopathy")
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
        "id:1",
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
        "x" * 5000,
    ],
)
def test_hostile_queries_never_raise(db, keywords, query):
    ids = keywords.add(["heart failure alerts"])
    hits = keywords.search(query)
    assert isinstance(hits, list)
    assert set(ids_of(hits)) <= set(ids)
    assert keywords.search(query, (None,)) is not None
    assert StoredTerms.count(db) == 1  # nothing was dropped or rewritten


def test_operator_words_are_searched_as_words(keywords):
    near, other = keywords.add(["The store near the station", "heart failure"], language=None)
    assert ids_of(keywords.search("NEAR", (None,))) == [near]
    assert ids_of(keywords.search("heart*", (None,))) == [other]


def test_empty_query_and_non_positive_k_return_nothing(keywords):
    keywords.add(["heart failure alerts"])
    assert keywords.search("!!!") == []
    assert keywords.search("heart", k=0) == []


def test_a_query_reads_as_terms_and_required_phrase_terms(keywords):
    read = keywords.keyword_search.read('NEAR alerts "heart failure"', ["en"])
    assert read.any_of == ("near", "alert", "heart", "failur")
    assert read.all_of == ("heart", "failur")
    assert read.phrases == ("heart failure",)
    assert keywords.keyword_search.read("NEAR(a b) OR c*", [None]).any_of == (
        "near", "a", "b", "or", "c")
    assert keywords.keyword_search.read("*** :: ()", ["en"]).any_of == ()


def test_terms_written_by_another_analysis_are_rebuilt(db, keywords):
    assert keywords.stored.reanalyse_if_changed(db)  # a new database: nothing to redo
    db.execute("INSERT INTO documents(office) VALUES ('Boston')")
    db.execute("INSERT INTO chunks(document_id, ordinal, text, language)"
               " VALUES (1, 0, 'High effect of early monitoring', 'en')")
    db.execute("INSERT INTO chunk_terms(chunk_id, terms) VALUES (1, 'monitor')")  # old analysis
    keywords._publish()
    assert keywords.search("high effect") == []
    assert not keywords.stored.reanalyse_if_changed(db)
    db.execute("UPDATE meta SET value = 'old' WHERE key = 'lexical_analysis'")
    assert keywords.stored.reanalyse_if_changed(db)
    keywords._publish()
    assert ids_of(keywords.search("high effect")) == [1]
    assert StoredTerms.count(db) == 1


PARIS_NOTES = ["télésurveillance telemonitoring of patients at home",
               "telemonitoring nurses call after a weight alert",
               "coaching app retention in Lyon"]
PARIS = Scope("lower(d.office) IN (?)", ("paris",))


def test_a_search_narrowed_to_offices_scores_as_bm25_over_them_alone(keywords):
    paris = keywords.add(PARIS_NOTES, office="paris")
    # over the whole index (only Paris so far) the narrowed scores are the open ones
    narrowed = keywords.search("telemonitoring weight", scope=PARIS)
    open_hits = keywords.search("telemonitoring weight")
    assert ids_of(narrowed) == ids_of(open_hits) == [paris[1], paris[0]]
    assert [s for _, s in narrowed] == pytest.approx([s for _, s in open_hits], rel=1e-6)
    # Boston adds chunks that hold the words: a Paris-narrowed search cannot tell
    keywords.add(["telemonitoring telemonitoring weight"] * 7, office="Boston")
    assert keywords.search("telemonitoring weight", scope=PARIS) == narrowed
    open_scores = dict(keywords.search("telemonitoring weight", k=20))
    assert open_scores[paris[1]] != dict(narrowed)[paris[1]]  # the open search's stats moved
    phrase = keywords.search('"weight alert" telemonitoring', scope=PARIS)
    assert ids_of(phrase) == [paris[1]]
    # a narrowed search also keeps to the chunks allowed by the rest of its filter
    assert ids_of(keywords.search("telemonitoring", scope=PARIS, allowed=[paris[0]])) == [
        paris[0]]
