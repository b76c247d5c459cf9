"""The Milvus backend: the FAISS answers from a Milvus collection, generations through an alias.

Real Milvus Lite (a local file, the same pymilvus client a Milvus server takes)
and real chunk vectors: the lines of the sample corpus's interviews and notes,
embedded by the real model, searched with the corpus's evaluation queries.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from pymilvus import MilvusClient

from search.embedding import Encoder
from search.index import FaissIndex, VectorIndex, index_class
from search.knowledge_base import KnowledgeBase
from search.model_guard import ModelMismatchError
from search.records import DocumentMeta, Filters, NewChunk
from search.settings import Settings
from tests.helpers import CORPUS


@pytest.fixture(scope="module")
def chunks(encoder: Encoder) -> tuple[np.ndarray, np.ndarray]:
    """Every other corpus line (about 100, in four languages) as (document vectors, query
    vectors): enough to compare rankings, few enough to embed in seconds."""
    paths = sorted([*CORPUS.glob("*/interviews/*.txt"), *CORPUS.glob("*/notes/*.md")])
    lines = [line.strip("# -") for path in paths for line in path.read_text().splitlines()]
    texts = [line for line in lines if len(line) >= 60][::2]
    queries = [q["query"] for q in yaml.safe_load((CORPUS / "eval_queries.yaml").read_text())]
    return encoder.encode_documents(texts), encoder.encode_queries(queries)


def milvus_class(data_dir: Path, **overrides: object) -> type[VectorIndex]:
    return index_class(Settings(data_dir=data_dir, index_backend="milvus", **overrides))


def recall_at_10(truth: np.ndarray, found: np.ndarray) -> float:
    return float(np.mean([len(set(t) & set(f)) / len(set(t) - {-1})
                          for t, f in zip(truth, found, strict=True)]))


def test_milvus_answers_as_faiss_exact_does(tmp_path: Path, chunks) -> None:
    vectors, queries = chunks
    ids = np.arange(1000, 1000 + len(vectors), dtype=np.int64)
    faiss, milvus = FaissIndex(vectors.shape[1]), milvus_class(tmp_path).for_size(
        vectors.shape[1], len(ids), exact_limit=10_000, nprobe=8)
    for index in (faiss, milvus):
        index.add(ids, vectors)
    assert milvus.exact and milvus.kind == "milvus-flat" and len(milvus) == len(ids)
    truth_scores, truth = faiss.search(queries, 10)
    scores, found = milvus.search(queries, 10)
    assert recall_at_10(truth, found) >= 0.95
    assert np.allclose(scores, truth_scores, atol=1e-4)
    # a filter applies inside the search: k hits while k chunks pass it, -1 beyond
    allowed = ids[::3]
    assert recall_at_10(faiss.search(queries, 10, allowed)[1],
                        milvus.search(queries, 10, allowed)[1]) >= 0.95
    _, few = milvus.search(queries[:2], 10, ids[:4])
    assert few.shape == (2, 10) and set(few[:, :4].ravel()) == set(ids[:4])
    assert (few[:, 4:] == -1).all()
    # range search finds what FAISS finds, also where a chunk has more neighbours than the
    # first page of hits Milvus is asked for (16)
    wanted = faiss.range_search(vectors[:40], 0.85)
    assert max(len(w) for w, _ in wanted) > 16
    for (want, _), (got, got_scores) in zip(wanted, milvus.range_search(vectors[:40], 0.85),
                                            strict=True):
        assert set(got) == set(want) and (got_scores >= 0.85).all()


def test_a_loaded_generation_is_copied_on_write_and_never_changes(tmp_path: Path,
                                                                  chunks) -> None:
    vectors, queries = chunks
    ids = np.arange(len(vectors), dtype=np.int64)
    cls = milvus_class(tmp_path)
    first = cls.for_size(vectors.shape[1], len(ids), exact_limit=10_000, nprobe=8)
    first.add(ids, vectors)
    first.save(tmp_path / "vectors-000001.milvus")
    live = cls.load(tmp_path / "vectors-000001.milvus")
    assert len(live) == len(ids) and live.kind == "milvus-flat"
    _, before = live.search(queries, 10)
    private = cls.load(tmp_path / "vectors-000001.milvus")
    private.delete(ids[:100])
    private.add(np.array([10_000], np.int64), vectors[:1])
    assert len(private) == len(ids) - 99
    _, after = private.search(vectors[:5], 10)
    assert not set(after.ravel()) & set(ids[:100]) and 10_000 in after[0]
    # the published collection is untouched: readers still see every chunk
    assert len(live) == len(cls.load(tmp_path / "vectors-000001.milvus")) == len(ids)
    assert (live.search(queries, 10)[1] == before).all()


def test_past_the_exact_limit_an_index_is_ivf_and_still_finds(tmp_path: Path, chunks) -> None:
    vectors, queries = chunks
    ids = np.arange(len(vectors), dtype=np.int64)
    index = milvus_class(tmp_path).for_size(vectors.shape[1], len(ids), exact_limit=100,
                                            nprobe=4)
    assert not index.exact and index.kind.startswith("milvus-ivf")
    index.add(ids, vectors)
    exact = FaissIndex(vectors.shape[1])
    exact.add(ids, vectors)
    assert recall_at_10(exact.search(queries, 10)[1], index.search(queries, 10)[1]) >= 0.8


TOPICS = ["heart failure telemonitoring", "diabetes coaching", "COPD at home",
          "blood pressure in pharmacies", "consent at onboarding", "tinnitus therapy"]


def put(kb: KnowledgeBase, office: str, texts: list[str]) -> None:
    with kb.writer() as writer:
        writer.put(DocumentMeta(title=office, office=office, language="en",
                                source_path=f"/{office}.md", content_hash=office),
                   [NewChunk(text=t, language="en") for t in texts],
                   kb.encoder.encode_documents(texts))


def pointed(kb: KnowledgeBase, generation: int) -> str:
    """The collection a generation's pointer file names."""
    path = kb.settings.index_dir / f"vectors-{generation:06d}.milvus"
    return json.loads(path.read_text())["collection"]


def test_a_knowledge_base_on_milvus_publishes_generations_through_an_alias(
        tmp_path: Path, encoder: Encoder) -> None:
    settings = Settings(data_dir=tmp_path, index_backend="milvus", generations_kept=2)
    kb = KnowledgeBase(settings, encoder)
    milvus = MilvusClient(str(tmp_path / "milvus.db"))  # the same Lite server, in-process
    put(kb, "Boston", [f"Boston notes on {t}." for t in TOPICS])
    put(kb, "Paris", [f"Paris notes on {t}." for t in TOPICS])
    assert kb.status()["index"] == "milvus-flat" and kb.status()["vectors"] == 12
    hits = kb.search("COPD at home", Filters(office=["Paris"]), k=2, mode="dense")
    assert hits[0].text == "Paris notes on COPD at home."
    assert milvus.describe_alias("bridge_live")["collection_name"] == pointed(kb, 2)
    # an abandoned private copy (a publish that failed) is dropped by the next prune
    with kb.database.connect() as db:
        kb.generation_files.load(db).index.delete(np.array([1], np.int64))
    with kb.writer() as writer:
        writer.delete("/Paris.md")
    assert kb.status()["generation"] == 3 and kb.status()["vectors"] == 6
    assert {h.document.office for h in kb.search("COPD at home", k=10, mode="dense")} == \
        {"Boston"}
    assert milvus.describe_alias("bridge_live")["collection_name"] == pointed(kb, 3)
    # generations 2 and 3 are kept; generation 1's files and collection are gone
    keywords = [kb.generation_files.keywords_path(n).name for n in (2, 3)]
    assert sorted(p.name for p in settings.index_dir.iterdir()) == \
        [*keywords, "vectors-000002.milvus", "vectors-000003.milvus"]
    assert sorted(milvus.list_collections()) == sorted([pointed(kb, 2), pointed(kb, 3)])
    reopened = KnowledgeBase(settings, encoder)
    assert reopened.status()["generation"] == 3 and reopened.status()["vectors"] == 6
    assert [h.chunk_id for h in reopened.search("diabetes coaching", k=3, mode="dense")] == \
        [h.chunk_id for h in kb.search("diabetes coaching", k=3, mode="dense")]
    # the same data directory under the FAISS backend is refused, with the setting to use
    with pytest.raises(ModelMismatchError, match="BRIDGE_INDEX_BACKEND=milvus"):
        KnowledgeBase(settings.model_copy(update={"index_backend": "faiss"}), encoder)
