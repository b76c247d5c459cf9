"""Watches, matched at publish: a Paris finding hears of Boston's translation of it, once."""

from __future__ import annotations

import pytest

from search.knowledge_base import KnowledgeBase
from search.records import DocType, NewChunk, Provenance
from search.watching import WatchRequest
from tests.helpers import meta

FRENCH = ("Les infirmières rappellent chaque patient insuffisant cardiaque dès que son poids "
          "augmente de deux kilos en trois jours.")
ENGLISH = ("Nurses call every heart failure patient as soon as their weight rises by two "
           "kilograms in three days.")
UNRELATED = "The startup raised a seed round of two million dollars to open a Berlin office."


def put(kb: KnowledgeBase, i: int, office: str, language: str, texts: list[str],
        path: str | None = None, replace: bool = False) -> None:
    """One document of ``texts`` (one chunk each), published."""
    document = meta(i, office, language, DocType.report, "2024-03-01", "".join(texts))
    if path:
        document = document.model_copy(update={"source_path": path})
    chunks = [NewChunk(text=t, language=language, provenance=Provenance(page=1)) for t in texts]
    with kb.writer() as writer:
        writer.put(document, chunks, kb.encoder.encode_documents(texts), replace=replace)


@pytest.fixture
def paris(kb: KnowledgeBase) -> KnowledgeBase:
    put(kb, 1, "Paris", "fr", [FRENCH])
    return kb


def alerts(kb: KnowledgeBase, watch_id: int) -> list[tuple[str, str | None]]:
    return [(chunk.text, document.office) for _, chunk, document in kb.watcher.alerts(watch_id)]


def test_a_translation_from_another_office_alerts_once(paris: KnowledgeBase) -> None:
    watch = paris.watcher.add(WatchRequest(owner="paris-team", text=FRENCH, office="Paris"))
    assert (watch.kind, watch.home_office, watch.target_offices) == ("text", "Paris", None)
    put(paris, 2, "Boston", "en", [ENGLISH, UNRELATED])
    put(paris, 3, "Paris", "fr", [FRENCH + " Depuis janvier."])  # its own office: never
    assert alerts(paris, watch.id) == [(ENGLISH, "Boston")]
    [(alert, _, _)] = paris.watcher.alerts(watch.id)
    assert alert.similarity >= paris.settings.watch_threshold
    assert alert.webhook_status == "none"  # a feed-only watch sends nothing

    put(paris, 2, "Boston", "en", [ENGLISH, UNRELATED], path="/docs/copy.txt")  # a copy
    put(paris, 2, "Boston", "en", [ENGLISH, UNRELATED], replace=True)  # indexed again
    assert len(alerts(paris, watch.id)) == 1


def test_an_edited_passage_alerts_only_when_its_text_changed(paris: KnowledgeBase) -> None:
    watch = paris.watcher.add(WatchRequest(owner="paris-team", text=FRENCH, office="Paris",
                                           delivery="webhook", webhook_url="http://x.test/"))
    put(paris, 2, "Boston", "en", [ENGLISH])
    edited = ENGLISH.replace("Nurses call", "Our nurses phone")
    put(paris, 4, "Boston", "en", [UNRELATED, ENGLISH], path="/docs/2.txt")  # same passage
    assert alerts(paris, watch.id) == [(ENGLISH, "Boston")]
    put(paris, 5, "Boston", "en", [ENGLISH, edited], path="/docs/2.txt")
    found = paris.watcher.alerts(watch.id)
    assert [chunk.text for _, chunk, _ in found] == [edited, ENGLISH]
    assert {alert.webhook_status for alert, _, _ in found} == {"pending"}


def test_a_watch_never_matches_an_office_its_owner_cannot_see(paris: KnowledgeBase) -> None:
    only_paris = frozenset({"paris"})
    blind = paris.watcher.add(WatchRequest(owner="paris-only", text=FRENCH, office="Paris",
                                           visible_offices=only_paris))
    asked = paris.watcher.add(WatchRequest(owner="paris-only", text=FRENCH, office="Paris",
                                           target_offices=("Boston",),
                                           visible_offices=only_paris))
    assert blind.target_offices == asked.target_offices == ()
    with pytest.raises(LookupError):
        paris.watcher.add(WatchRequest(owner="berlin-only", document_id=1,
                                       visible_offices=frozenset({"berlin"})))
    put(paris, 2, "Boston", "en", [ENGLISH])
    assert alerts(paris, blind.id) == alerts(paris, asked.id) == []


def test_a_stored_passage_can_be_watched_and_a_watch_removed(paris: KnowledgeBase) -> None:
    document = paris.documents()[0][0]
    chunk = paris.document(document.id)[1][0]
    by_chunk = paris.watcher.add(WatchRequest(owner="paris-team", chunk_id=chunk.id))
    by_document = paris.watcher.add(WatchRequest(owner="paris-team", document_id=document.id,
                                                 target_offices=("Berlin",)))
    assert by_chunk.home_office == "Paris" and by_document.target_offices == ("berlin",)
    assert [w.id for w in paris.watcher.watches("paris-team")] == [by_chunk.id, by_document.id]
    put(paris, 2, "Boston", "en", [ENGLISH])
    assert alerts(paris, by_chunk.id) == [(ENGLISH, "Boston")]
    assert alerts(paris, by_document.id) == []  # Boston is not among its targets
    assert paris.watcher.remove(by_chunk.id) and not paris.watcher.remove(by_chunk.id)
    assert paris.watcher.watch(by_chunk.id) is None and alerts(paris, by_chunk.id) == []
