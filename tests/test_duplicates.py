"""Near-duplicates: found at publish, kept in step with edits and deletes, folded in results."""

from __future__ import annotations

from search.chunks import document_chunk_ids
from search.knowledge_base import KnowledgeBase
from search.near_duplicates import SEARCHED_META, chunk_near_duplicates, gather_near_duplicates
from search.records import DocumentMeta, NewChunk

DECK = ["Silentia: digital therapy for chronic tinnitus, listed as a DiGA in Germany.",
        "About one adult in ten lives with chronic tinnitus; no drug cures it.",
        "Twelve weeks of tinnitus-specific cognitive behavioural therapy with sound therapy.",
        "Tinnitus Handicap Inventory fell by 16 points at twelve weeks versus 4 on waiting list."]
# the same deck as another office received it: one slide reworded, a footer added
COPY = [*DECK[:3], "Tinnitus Handicap Inventory fell by 16.3 points at 12 weeks, versus 4.2 on "
        "the waiting list.", "Shared with the Madrid office, November 2023."]
OTHER = ["Connected blood-pressure cuffs lower systolic pressure by only a few mmHg.",
         "With a pharmacist titrating medication the drop reaches 9 mmHg at six months.",
         "Pharmacists need a protocol signed with the cardiologists.",
         "Patients send readings twice a week from home."]
# shares one slide with DECK, and nothing else
MIXED = [DECK[1], "Hearing-aid makers are moving into over-the-counter devices.",
         "Audiologists want remote fitting sessions billed like visits.",
         "A consumer earbud brand asked about a tinnitus masking partnership."]


def put(kb: KnowledgeBase, path: str, office: str, texts: list[str]) -> None:
    with kb.writer() as writer:
        meta = DocumentMeta(title=path, office=office, language="en", source_path=path,
                            content_hash="|".join(texts))
        writer.put(meta, [NewChunk(text=t, language="en", n_tokens=30) for t in texts],
                   kb.encoder.encode_documents(texts), replace=True)


def ids(kb: KnowledgeBase) -> dict[str, int]:
    documents, _ = kb.documents(limit=100)
    return {d.source_path: d.id for d in documents}


def test_copies_become_twins_and_leave_with_their_documents(kb: KnowledgeBase) -> None:
    put(kb, "/berlin/deck.pdf", "Berlin", DECK)
    put(kb, "/paris/other.pdf", "Paris", OTHER)
    assert kb.near_duplicates(ids(kb)["/berlin/deck.pdf"]) == []
    put(kb, "/madrid/copy.pdf", "Madrid", COPY)
    put(kb, "/boston/mixed.pdf", "Boston", MIXED)
    found = ids(kb)
    twins = kb.near_duplicates(found["/berlin/deck.pdf"])
    assert [t.document.id for t in twins] == [found["/madrid/copy.pdf"]]
    assert twins[0].coverage >= 0.75 and not twins[0].translated
    assert [t.document.id for t in kb.near_duplicates(found["/madrid/copy.pdf"])] == [
        found["/berlin/deck.pdf"]]
    # one shared slide is a chunk twin, not a document twin
    assert kb.near_duplicates(found["/boston/mixed.pdf"]) == []
    with kb.database.connect() as db:
        mixed_chunks = document_chunk_ids(db, found["/boston/mixed.pdf"])
        assert chunk_near_duplicates(db, mixed_chunks).get(mixed_chunks[0])

    # results fold the copy into the first of the two, and list it there
    groups = kb.search_documents("tinnitus cognitive behavioural therapy", k=4)
    decks = [g for g in groups if g.document.id in (found["/berlin/deck.pdf"],
                                                    found["/madrid/copy.pdf"])]
    assert len(decks) == 1 and len(decks[0].also_in) == 1
    hits = kb.search("Twelve weeks of tinnitus-specific cognitive behavioural therapy", k=3)
    assert hits[0].also_in and hits[0].also_in[0].office != hits[0].document.office

    # rewritten, the copy is no longer a twin; deleted, its rows go with it
    put(kb, "/madrid/copy.pdf", "Madrid", [*OTHER[::-1], "Madrid's own notes."])
    assert kb.near_duplicates(found["/berlin/deck.pdf"]) == []
    with kb.writer() as writer:
        writer.delete("/madrid/copy.pdf")
    with kb.database.connect() as db:
        rows = db.execute("SELECT COUNT(*) FROM document_twins").fetchone()[0]
        dangling = db.execute("SELECT COUNT(*) FROM chunk_twins t LEFT JOIN chunks c"
                              " ON c.id = t.twin_id WHERE c.id IS NULL").fetchone()[0]
    assert rows == 0 and dangling == 0


def test_an_index_built_before_twins_is_searched_in_full_at_its_next_publish(
        kb: KnowledgeBase) -> None:
    put(kb, "/berlin/deck.pdf", "Berlin", DECK)
    put(kb, "/madrid/copy.pdf", "Madrid", COPY)
    with kb.database.connect() as db:  # as an index written by the previous version
        db.execute("DELETE FROM chunk_twins")
        db.execute("DELETE FROM document_twins")
        db.execute("DELETE FROM meta WHERE key = ?", (SEARCHED_META,))
    assert kb.near_duplicates(ids(kb)["/berlin/deck.pdf"]) == []
    put(kb, "/paris/other.pdf", "Paris", OTHER)
    found = ids(kb)
    assert [t.document.id for t in kb.near_duplicates(found["/berlin/deck.pdf"])] == [
        found["/madrid/copy.pdf"]]


def test_fold_keeps_the_first_and_gathers_its_twins() -> None:
    twins = {1: {3}, 3: {1, 5}, 5: {3}, 2: set()}
    assert gather_near_duplicates([1, 2, 3, 5, 4], twins) == {1: [3], 2: [], 5: [], 4: []}
    assert gather_near_duplicates([], twins) == {}
    assert gather_near_duplicates([3, 1], twins) == {3: [1]}
