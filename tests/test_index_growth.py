"""The index type follows the size: exact while small, IVF-SQ8 once past index_exact_limit.

Real FAISS indexes; the knowledge-base test uses the real model and a tiny limit
so the switch happens on a few dozen chunks.
"""

from __future__ import annotations

import numpy as np

from search.index import FaissIndex
from search.knowledge_base import KnowledgeBase
from search.records import DocumentMeta, Filters, NewChunk


def unit(rows: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((rows, 64)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_an_approximate_index_agrees_with_exact_search_and_keeps_the_interface(tmp_path) -> None:
    # clustered data, as chunk vectors are: 40 topics, 3,000 vectors around them
    centres = unit(40, 1)
    noise = np.random.default_rng(2).standard_normal((3000, 64)).astype(np.float32) * 0.08
    vectors = centres[np.arange(3000) % 40] + noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(100, 3100, dtype=np.int64)
    exact = FaissIndex.for_size(64, 3000, exact_limit=5000, nprobe=8)
    approximate = FaissIndex.for_size(64, 3000, exact_limit=1000, nprobe=8)
    assert exact.exact and exact.kind == "exact"
    assert not approximate.exact and approximate.kind.startswith("ivf")
    for index in (exact, approximate):
        index.add(ids, vectors)
    queries = vectors[::50] + 0.02
    _, truth = exact.search(queries, 10)
    _, found = approximate.search(queries, 10)
    recall = np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found, strict=True)])
    assert recall >= 0.9, recall
    # filters, deletes, range search and a save/load round trip work the same way
    allowed = ids[::7]
    _, filtered = approximate.search(queries[:5], 10, allowed)
    assert set(filtered.ravel()) - {-1} <= set(allowed)
    approximate.delete(ids[:1000])
    assert len(approximate) == 2000
    _, after = approximate.search(vectors[:3], 10)
    assert not set(after.ravel()) & set(ids[:1000])
    [(close, scores)] = approximate.range_search(vectors[2000:2001], 0.99)
    assert ids[2000] in close and (scores >= 0.99).all()
    approximate.save(tmp_path / "ivf.faiss")
    loaded = FaissIndex.load(tmp_path / "ivf.faiss")
    assert loaded.kind == approximate.kind and len(loaded) == 2000


def put(kb: KnowledgeBase, name: str, office: str, texts: list[str]) -> None:
    with kb.writer() as writer:
        writer.put(DocumentMeta(title=name, office=office, language="en", source_path=name,
                                content_hash=name), [NewChunk(text=t, language="en")
                                                     for t in texts],
                   kb.encoder.encode_documents(texts))


def test_the_knowledge_base_switches_once_it_outgrows_the_limit(settings_for, encoder) -> None:
    kb = KnowledgeBase(settings_for("growth", index_exact_limit=30), encoder)
    topics = ["heart failure", "diabetes coaching", "COPD", "blood pressure", "consent",
              "tinnitus", "asthma", "insulin dosing", "hospital at home", "dermatology"]
    put(kb, "/boston.md", "Boston", [f"Boston note {i} on {t}." for i, t in enumerate(topics)])
    put(kb, "/paris.md", "Paris", [f"Note {i} de Paris sur {t}." for i, t in enumerate(topics)])
    assert kb.status()["index"] == "exact"
    put(kb, "/berlin.md", "Berlin", [f"Berliner Notiz {i} zu {t}." for i, t in
                                     enumerate([*topics, "telemonitoring", "DiGA"])])
    status = kb.status()
    assert status["index"].startswith("ivf") and status["vectors"] == 32
    hits = kb.search("Berliner Notiz zu tinnitus", Filters(office=["Berlin"]), k=3,
                     mode="dense")
    assert hits and {h.document.office for h in hits} == {"Berlin"}
    assert "tinnitus" in hits[0].text
    with kb.writer() as writer:
        writer.delete("/paris.md")
    # deleting takes the vectors out of the approximate index without a rebuild
    assert kb.status()["vectors"] == 22 and kb.status()["index"].startswith("ivf")
    assert kb.search("Boston note on asthma", k=1, mode="dense")[0].document.office == "Boston"
