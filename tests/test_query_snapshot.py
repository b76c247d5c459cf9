"""One generation per query: a publish between a query's ranking and its reading of rows.

The publish is real (an ingest in another thread replaces the ranked document), and it
runs exactly between the two steps: the reading step is wrapped to wait for it.
"""

from __future__ import annotations

import threading
from pathlib import Path

from ingest.pipeline import Ingestor
from search.knowledge_base import KnowledgeBase
from search.records import SearchMode

OLD = "# Pilot\n\nThe Quarkblossom pilot called patients after two missed weigh-ins.\n"
NEW = "# Pilot\n\nThe Quarkblossom pilot now sends a nurse within the day.\n"


def test_a_publish_between_ranking_and_reading_changes_nothing_the_query_reads(
        kb: KnowledgeBase, tmp_path: Path) -> None:
    folder = tmp_path / "paris" / "notes"
    folder.mkdir(parents=True)
    (folder / "pilot.md").write_text(OLD, encoding="utf-8")
    (folder / "other.md").write_text("# Other\n\nCoaching apps keep users.\n", "utf-8")
    Ingestor(kb).run([tmp_path])
    reading = kb.retriever.hits
    published: list[int] = []

    def hits_after_a_publish(*args, **kwargs):
        if not published:  # the first query: publish the edit now, between rank and read
            (folder / "pilot.md").write_text(NEW, encoding="utf-8")
            writer = threading.Thread(target=lambda: published.append(
                len(Ingestor(kb).run([tmp_path]).updated)))
            writer.start()
            writer.join()
        return reading(*args, **kwargs)

    kb.retriever.hits = hits_after_a_publish  # type: ignore[method-assign]
    for mode in (SearchMode.hybrid, SearchMode.dense, SearchMode.lexical):
        hits = kb.search("Quarkblossom pilot weigh-ins", k=1, mode=mode)
        assert published == [1]  # the edit was published while this query ran
        expected = "missed weigh-ins" if mode == SearchMode.hybrid else "within the day"
        assert hits and expected in hits[0].text, (mode, hits)
