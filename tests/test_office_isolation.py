"""What a key limited to offices sees does not move when a hidden office's documents change.

One knowledge base (real model, SQLite, FAISS): Paris and Madrid write about remote
monitoring, Boston too. A reader limited to Paris and Madrid searches in every mode and asks
for bridges; then Boston adds documents that hold the same words, and deletes one. Every
answer, score included, is the same before and after, while an open search's keyword
scores do move (so the test can tell).

Language centring is on (the default): its offsets come from a parallel reference text,
not from any office's documents.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.pipeline import Ingestor
from search.bridges import BridgeQuery
from search.embedding import Encoder
from search.knowledge_base import KnowledgeBase
from search.records import Filters, SearchMode

VISIBLE = frozenset({"paris", "madrid"})
PARIS = {
    "telesurveillance.md": "# Télésurveillance\n\nLes infirmières appellent le patient quand "
                           "son poids augmente de deux kilos en trois jours. Protocole KB-4471.",
    "coaching.md": "# Coaching\n\nL'application de coaching du diabète garde 60 % de ses "
                   "utilisateurs après trois mois.",
}
MADRID = {
    "telemonitorizacion.md": "# Telemonitorización\n\nLas enfermeras llaman al paciente "
                             "cuando su peso sube dos kilos en tres días. Protocolo KB-4471.",
}
BOSTON_FIRST = {
    "hf.md": "# Heart failure\n\nProtocol KB-4471 sets the weekly calls of the heart failure "
             "clinic: KB-4471 and KB-4471.",
    "retention.md": "# Retention\n\nThe diabetes coaching app keeps 60% of its users after "
                    "three months.",
    **{f"topic-{i}.md": f"# {topic}\n\nThe {topic} team met the hospital buyers in week {i}."
       for i, topic in enumerate(["Sleep apnea", "Asthma", "Tinnitus", "Dermatology"])},
}
BOSTON_LATER = {  # in French and Spanish too: corpus-wide language means would move
    **{f"more-{i}.md": f"# Note {i}\n\nWeight alerts under KB-4471 and KB-4471, number {i}."
       for i in range(2)},
    **{f"suivi-{i}.md": f"# Suivi {i}\n\nLes infirmières suivent le poids des patients chaque "
                        f"matin, note numéro {i} de l'équipe de Boston." for i in range(3)},
    **{f"seguimiento-{i}.md": f"# Seguimiento {i}\n\nLas enfermeras siguen el peso de los "
                              f"pacientes cada mañana, nota número {i} del equipo de Boston."
       for i in range(3)},
}
QUERIES = ["KB-4471", "poids deux kilos", "coaching diabète"]


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def seen(kb: KnowledgeBase, paris_doc: int) -> dict:
    """Everything the Paris+Madrid reader gets: hits and scores in each mode, bridges."""
    filters = Filters(office=sorted(VISIBLE))
    answers: dict = {}
    for query in QUERIES:
        for mode in SearchMode:
            answers[query, mode] = [(h.text, round(h.score, 9))
                                    for h in kb.search(query, filters, k=10, mode=mode)]
    bridges = kb.bridges(BridgeQuery(document_id=paris_doc, visible_offices=VISIBLE))
    answers["bridges"] = [(b.document.title, round(b.score, 9),
                           [(p.target.text, round(p.score, 9)) for p in b.passages])
                          for b in bridges.bridges]
    return answers


def test_a_hidden_office_changing_moves_nothing_a_limited_key_sees(
        settings_for, encoder: Encoder, tmp_path: Path) -> None:
    kb = KnowledgeBase(settings_for("isolation"), encoder)
    root = tmp_path / "share"
    write(root / "paris" / "notes", PARIS)
    write(root / "madrid" / "notes", MADRID)
    write(root / "boston" / "notes", BOSTON_FIRST)
    Ingestor(kb).run([root])
    paris_doc = next(d.id for d in kb.documents(Filters(office=["Paris"]))[0]
                     if d.title == "Télésurveillance")
    before = seen(kb, paris_doc)
    assert before["bridges"] and before["KB-4471", SearchMode.lexical]
    open_before = kb.search("KB-4471", None, k=10, mode=SearchMode.lexical)

    write(root / "boston" / "notes", BOSTON_LATER)
    (root / "boston" / "notes" / "hf.md").unlink()
    report = Ingestor(kb).run([root])
    assert len(report.added) == 8 and len(report.deleted) == 1

    assert seen(kb, paris_doc) == before
    open_after = kb.search("KB-4471", None, k=10, mode=SearchMode.lexical)
    moved = {h.text: h.score for h in open_after}
    assert any(moved.get(h.text) != pytest.approx(h.score) for h in open_before
               if h.text in moved)  # the open search's statistics did move

    # A move to another office's folder changes no chunk and keeps the generation, only who
    # holds the text: narrowed searches see it at once (what is kept per filter, its chunk ids
    # and its offices' keyword index, is dropped at every publish).
    notes = root / "madrid" / "notes" / "telemonitorizacion.md"
    notes.rename(root / "boston" / "notes" / notes.name)
    number = kb.generation().number
    assert len(Ingestor(kb).run([root]).moved) == 1
    assert kb.generation().number == number
    for mode in SearchMode:
        limited = kb.search("KB-4471 enfermeras", Filters(office=sorted(VISIBLE)), k=10,
                            mode=mode)
        assert limited and all(h.document.office.casefold() in VISIBLE for h in limited)
        boston = kb.search("KB-4471 enfermeras", Filters(office=["Boston"]), k=10, mode=mode)
        assert any("Las enfermeras llaman" in h.text for h in boston)
