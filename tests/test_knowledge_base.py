"""The knowledge base: dense search with filters, paging, grouping, and safe publishing."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import threading
from operator import attrgetter
from typing import TYPE_CHECKING

import pytest

from search.bridges import BridgeQuery
from search.chunks import chunk_documents
from search.document_ranking import MIN_DEPTH
from search.embedding import Encoder
from search.knowledge_base import KnowledgeBase
from search.records import DocType, Filters, NewChunk, Provenance, SearchMode
from search.schema import create
from search.sql import get_meta
from tests.helpers import index_is_consistent, meta

if TYPE_CHECKING:  # only a hint: the writer's module may move
    from search.writer import Writer

DOCS = [
    # office, language, type, date, texts
    ("Boston", "en", DocType.interview, "2024-03-01",
     ["Weight-gain alerts cut heart failure readmissions by a third.",
      "The cardiology team reviews alerts every morning."]),
    ("Paris", "fr", DocType.report, "2024-06-15",
     ["La télésurveillance de l'insuffisance cardiaque réduit les réhospitalisations.",
      "Le financement passe par le programme ETAPES."]),
    ("Berlin", "de", DocType.pitch_deck, "2023-11-20",
     ["Die App erinnert Patienten an ihre Medikamente.",
      "Die DiGA-Zulassung dauerte zwölf Monate."]),
    ("Madrid", "es", DocType.report, "2025-01-10",
     ["La monitorización de la EPOC en casa evita visitas a urgencias.",
      "Los hospitales piden integración con la historia clínica."]),
]


def put_all(kb: KnowledgeBase, docs=DOCS) -> None:
    with kb.writer() as writer:
        for i, (office, language, doc_type, date, texts) in enumerate(docs):
            chunks = [NewChunk(text=t, language=language, provenance=Provenance(page=p + 1))
                      for p, t in enumerate(texts)]
            writer.put(meta(i, office, language, doc_type, date, "".join(texts)), chunks,
                       kb.encoder.encode_documents(texts))


@pytest.fixture(scope="module")
def written(settings_for, encoder) -> KnowledgeBase:
    """DOCS, embedded and published once for the module; no test changes this one."""
    kb = KnowledgeBase(settings_for("kb-docs"), encoder)
    put_all(kb)
    return kb


@pytest.fixture
def filled(written: KnowledgeBase, copy_kb) -> KnowledgeBase:
    """A knowledge base holding DOCS, the test's own to change."""
    return copy_kb(written)


def test_search_finds_the_same_finding_across_languages(filled: KnowledgeBase) -> None:
    hits = filled.search("heart failure readmissions remote monitoring", k=2)
    assert {h.document.office for h in hits} == {"Boston", "Paris"}
    hits = filled.search(
        "les alertes de prise de poids réduisent les réhospitalisations",
        Filters(office=["boston"]), k=1)
    assert hits[0].text.startswith("Weight-gain alerts")
    assert hits[0].provenance.page == 1 and hits[0].document.language == "en"


def test_filters_apply_before_ranking_so_k_is_filled(filled: KnowledgeBase) -> None:
    hits = filled.search("heart failure", Filters(region=["EU"]), k=6)
    assert len(hits) == 6 and {h.document.region for h in hits} == {"EU"}
    hits = filled.search("heart failure", Filters(language=["de", "es"]), k=10)
    assert len(hits) == 4 and {h.language for h in hits} == {"de", "es"}
    hits = filled.search("heart failure", Filters(doc_type=[DocType.report]), k=10)
    assert {h.document.office for h in hits} == {"Paris", "Madrid"}
    window = Filters(date_from=dt.date(2024, 1, 1), date_to=dt.date(2024, 12, 31))
    assert {h.document.office for h in filled.search("x", window, k=10)} == {"Boston", "Paris"}
    assert filled.search("x", Filters(office=["Tokyo"]), k=5) == []


def test_offset_pages_through_the_same_ranking(filled: KnowledgeBase) -> None:
    everything = [h.chunk_id for h in filled.search("hospital", k=8)]
    assert len(everything) == 8 and len(set(everything)) == 8
    assert [h.chunk_id for h in filled.search("hospital", k=3, offset=3)] == everything[3:6]


def test_grouping_returns_each_document_once_with_its_chunks(filled: KnowledgeBase) -> None:
    groups = filled.search_documents("heart failure readmissions", k=3)
    assert len(groups) == 3 and len({g.document.id for g in groups}) == 3
    assert groups[0].score == groups[0].hits[0].score
    assert sum(len(g.hits) for g in groups) >= 3
    assert all(h.document.id == g.document.id for g in groups for h in g.hits)


def test_a_document_ranking_reads_deeper_when_one_document_fills_it(
        filled: KnowledgeBase) -> None:
    notes = [f"Heart failure readmissions fell after weight alerts, ward note {i}."
             for i in range(80)]
    put_all(filled, [("Boston", "en", DocType.report, "2024-05-01", notes)])  # replaces doc 0
    query = "heart failure readmissions after weight alerts"
    read, ranked = filled.rank_documents(query, k=4, mode=SearchMode.dense)
    # the first chunks read all belong to the notes; the four documents are still found,
    # in the order of their best chunks over the whole ranking
    every_chunk = filled.retriever.rank(read, None, 1000, SearchMode.dense)
    with filled.database.connect() as db:
        owners = chunk_documents(db, [i for i, _ in every_chunk])
    in_order = list(dict.fromkeys(owners[i] for i, _ in every_chunk))
    assert len({owners[i] for i, _ in every_chunk[:MIN_DEPTH]}) < 4  # so it had to read on
    assert [d.id for d in ranked] == in_order[:4] and len(in_order) == 4
    assert ranked[0].source_path == "/docs/0.txt" and len(ranked[0].chunks) == 3
    assert all(c[1] <= ranked[0].score for d in ranked for c in d.chunks)


def test_documents_page_and_detail(filled: KnowledgeBase) -> None:
    page, total = filled.documents(Filters(region=["EU"]), limit=2, offset=0)
    assert total == 3 and len(page) == 2
    assert page[0].date >= page[1].date  # newest first
    document, chunks = filled.document(page[0].id)
    assert document.n_chunks == 2 == len(chunks) and chunks[0].ordinal == 0
    assert filled.document(10_000) is None


def test_replacing_a_document_leaves_no_stale_vectors(filled: KnowledgeBase) -> None:
    before = filled.generation()
    replaced = [("Boston", "en", DocType.interview, "2024-03-01", ["Only one new chunk."])]
    put_all(filled, replaced)
    after = filled.generation()
    assert after.number == before.number + 1 and len(after.index) == len(before.index) - 1
    assert all("Weight-gain" not in h.text for h in filled.search("weight gain alerts", k=8))
    assert filled.status()["chunks"] == len(after.index)


def test_a_reader_keeps_its_generation_until_the_next_is_published(filled: KnowledgeBase,
                                                                    encoder) -> None:
    reader = KnowledgeBase(filled.settings, encoder)
    before = reader.generation()
    with filled.writer() as writer:
        writer.delete("/docs/0.txt")
        # not yet published: the reader still serves the complete old generation
        assert reader.generation() is before
    assert reader.generation().number == before.number + 1
    hits = reader.search("heart failure", k=8)
    assert len(hits) == 6 and all(h.document.office != "Boston" for h in hits)


class InjectedFailure(RuntimeError):
    """The failure a test makes a publish meet halfway through its transaction."""


def visible(kb: KnowledgeBase) -> dict:
    """All a reader sees: the status and counts, every document with its chunks, and the
    hits of one query in every mode."""
    documents, _ = kb.documents(limit=100)
    return {"status": kb.status(),
            "documents": [kb.document(d.id) for d in documents],
            "hits": {mode: kb.search("heart failure readmissions at home", k=8, mode=mode)
                     for mode in SearchMode}}


def database_rows(kb: KnowledgeBase) -> list[str]:
    """Every row of the database, the keyword index and the embedding cache included."""
    db = sqlite3.connect(kb.settings.db_path)
    try:
        return list(db.iterdump())
    finally:
        db.close()


def index_files(kb: KnowledgeBase) -> set[str]:
    return {path.name for path in kb.settings.index_dir.iterdir()}


def write_changes(writer: Writer, encoder: Encoder) -> None:
    """A new document and a deleted one: rows to insert and rows to delete."""
    text = "A kiosk pilot in Toulouse let patients weigh themselves at the pharmacy."
    writer.put(meta(9, "Paris", "en", DocType.report, "2024-09-01", text),
               [NewChunk(text=text, language="en")], encoder.encode_documents([text]))
    writer.delete("/docs/2.txt")


# Where the failure lands inside the publish's transaction: after its rows are written,
# before the vectors' file; or once the file is written and the database names it.
FAILURE_POINTS = {"rows written": ("terms", "delete"),
                  "generation named": ("terms", "mark_changed")}


def test_a_missing_keyword_index_is_rebuilt_from_the_database(filled: KnowledgeBase,
                                                              encoder: Encoder) -> None:
    before = visible(filled)
    folder = filled.generation_files.keywords_path(filled.generation().number)
    shutil.rmtree(folder)
    assert visible(KnowledgeBase(filled.settings, encoder)) == before  # a reader from disk
    assert folder.is_dir()


def test_terms_of_an_fts5_data_directory_move_to_the_plain_table(tmp_path) -> None:
    db = sqlite3.connect(tmp_path / "old.sqlite3")
    create(db, tmp_path / "old.sqlite3")
    db.executescript("DROP TABLE chunk_terms; CREATE VIRTUAL TABLE chunk_terms USING fts5(terms);"
                     "INSERT INTO chunk_terms(rowid, terms) VALUES (7, 'heart failur');")
    create(db, tmp_path / "old.sqlite3")
    assert db.execute("SELECT chunk_id, terms FROM chunk_terms").fetchall() == [
        (7, "heart failur")]
    assert "fts5" not in db.execute("SELECT sql FROM sqlite_master WHERE name = 'chunk_terms'"
                                    ).fetchone()[0]


@pytest.mark.parametrize("point", FAILURE_POINTS)
def test_failed_publish_changes_nothing(filled: KnowledgeBase, encoder: Encoder,
                                        monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    before, rows, files = visible(filled), database_rows(filled), index_files(filled)
    number = filled.generation().number
    owner, method = FAILURE_POINTS[point]
    seen: dict[str, object] = {}

    def fail(db: sqlite3.Connection, *args: object) -> None:
        """Record what the transaction has done so far (so the failure is known to land
        after real writes), then fail."""
        seen["new chunks"] = db.execute("SELECT count(*) FROM chunks WHERE text LIKE"
                                        " 'A kiosk pilot%'").fetchone()[0]
        seen["paths"] = {r[0] for r in db.execute("SELECT source_path FROM paths")}
        seen["generation"] = get_meta(db, "generation")
        raise InjectedFailure(point)

    with monkeypatch.context() as patch:
        patch.setattr(attrgetter(owner)(filled), method, fail)
        with pytest.raises(InjectedFailure), filled.writer() as writer:
            write_changes(writer, encoder)
    # the failure met a transaction that had written: the new chunk, the path deleted
    assert seen["new chunks"] == 1
    assert seen["paths"] == {"/docs/0.txt", "/docs/1.txt", "/docs/3.txt", "/docs/9.txt"}
    named = str(number + 1) if point == "generation named" else str(number)
    assert seen["generation"] == named

    assert filled.generation().number == number
    assert database_rows(filled) == rows
    assert visible(filled) == before
    assert visible(KnowledgeBase(filled.settings, encoder)) == before  # a reader from disk
    # files written before the failure are orphans no database row names; the next
    # publish of that number writes over them
    orphans = {f"vectors-{number + 1:06d}.{filled.settings.index_backend}",
               filled.generation_files.keywords_path(number + 1).name}
    assert index_files(filled) - files == (orphans if point == "generation named" else set())

    # the lock was let go and the next publish goes through whole (over any orphan)
    with filled.writer() as writer:
        write_changes(writer, encoder)
    assert filled.generation().number == number + 1
    assert {d.source_path for d in filled.documents(limit=100)[0]} == seen["paths"]
    assert filled.search("kiosk Toulouse", k=1, mode=SearchMode.lexical)[0].text.startswith(
        "A kiosk pilot")
    index_is_consistent(filled, finished=False)  # a deleted text's vector stays cached


def test_the_last_put_of_a_path_in_one_publish_wins(kb: KnowledgeBase) -> None:
    with kb.writer() as writer:
        for text in ("first version", "second version"):
            writer.put(meta(0, "Boston", "en", DocType.other, "2024-01-01"),
                       [NewChunk(text=text)], kb.encoder.encode_documents([text]))
    documents, total = kb.documents()
    assert total == 1
    assert [c.text for c in kb.document(documents[0].id)[1]] == ["second version"]


def test_a_publish_stores_the_words_of_its_chunks_and_an_older_directory_gets_them_once(
        filled: KnowledgeBase) -> None:
    """ "Why it matched" reads word vectors a publish stored (``search.word_vectors``); a
    data directory written before words were kept gets them at its next writer."""
    from search.word_vectors import meaning_keys, passage_words, stored_word_vectors

    chunk = filled.document(filled.documents()[0][0].id)[1][0]
    keys = meaning_keys(passage_words(filled.terms.analyzer, chunk.text, chunk.language))
    model = filled.encoder.model_id
    with filled.database.connect() as db:
        assert set(stored_word_vectors(db, model, keys)) == set(keys) != set()
        db.execute("DELETE FROM word_vectors")
        db.execute("DELETE FROM meta WHERE key = 'word_vectors_model'")
    generation = filled.generation().number
    with filled.writer():
        pass  # nothing to write but the words
    with filled.database.connect() as db:
        vectors = stored_word_vectors(db, model, keys)
    assert set(vectors) == set(keys) and filled.generation().number == generation
    expected = filled.encoder.encode_queries([keys[0]])[0]
    # the same vector in float16 (and, through the int8 query graph, quantised per batch)
    assert float(vectors[keys[0]] @ expected) > 0.995


def test_with_store_word_vectors_off_a_publish_stores_no_words(written: KnowledgeBase,
                                                               copy_kb) -> None:
    kb = copy_kb(written, "no-words", store_word_vectors=False)
    with kb.database.connect() as db:
        db.execute("DELETE FROM word_vectors")
    put_all(kb, [("Paris", "fr", DocType.report, "2024-02-01",
                  ["Les infirmières rappellent les patients après une alerte de poids."])])
    with kb.database.connect() as db:
        assert db.execute("SELECT count(*) FROM word_vectors").fetchone()[0] == 0
    assert kb.bridges(BridgeQuery(text="weight alert nurse calls", office="Boston")).bridges


def bridged(kb: KnowledgeBase) -> list:
    """Every document's bridges, scores rounded past float noise."""
    return [[(b.document.id, round(b.score, 6), [(p.target.chunk_id, round(p.score, 6))
                                                  for p in b.passages])
             for b in kb.bridges(BridgeQuery(document_id=d.id)).bridges]
            for d in kb.documents(limit=100)[0]]


def test_bridge_margins_computed_ahead_answer_as_at_first_request(written: KnowledgeBase,
                                                                 copy_kb) -> None:
    warm = copy_kb(written, "margins-ahead")
    warm.bridger.prepare()  # as a server does at start
    cache = warm.bridger._cache
    assert cache is not None and cache.office_of
    assert {i for visible, i in cache.neighbourhood if visible is None} == set(cache.office_of)
    assert bridged(warm) == bridged(copy_kb(written, "margins-at-request"))
    # a later generation gets its margins too, in the background, as it is first used
    with warm.writer() as writer:
        writer.delete("/docs/0.txt")
    warm.bridges(BridgeQuery(document_id=warm.documents(limit=1)[0][0].id))
    for thread in threading.enumerate():
        if thread.name == "bridge-margins":
            thread.join(timeout=60)
    later = warm.bridger._cache
    assert later is not cache and later.generation == warm.generation().number
    assert {i for visible, i in later.neighbourhood if visible is None} == set(later.office_of)
