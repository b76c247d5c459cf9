"""``evaluation``: BEIR reading, scoring by hand-computed values, and a real run.

The real run ingests a tiny English/French BEIR set through the real pipeline with the real
model, then evaluates it twice: the second time, on another split of the same corpus, must
embed nothing and leave the scratch files untouched.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from evaluation.beir import DatasetError, load_dataset, read_qrels, write_jsonl, write_qrels
from evaluation.harness import evaluate
from evaluation.metrics import score_run
from evaluation.report import EvalReport, render_table
from search.records import SearchMode

DOCS = {
    "d1": ("Volcanoes", "Lava flows from an erupting volcano and the ash cloud grounds flights."),
    "d2": ("", "La recette de la tarte aux pommes demande du beurre, de la farine et du sucre."),
    "d3": ("Chess openings", "The Sicilian Defence is a popular chess opening for black."),
    "d4": ("Marées", "La Lune attire les océans et provoque les marées deux fois par jour."),
    "d5": ("", "Honey bees pollinate crops and live in hives ruled by a queen."),
    "d6": ("Le vélo", "Le Tour de France est une course cycliste de trois semaines en juillet."),
    "d7": ("Photosynthesis", "Plants turn sunlight, water and carbon dioxide into sugar."),
    "d8": ("", "Le train à grande vitesse relie Paris à Lyon en deux heures."),
}
QUERIES = {
    "q1": "How do bees make pollination happen?",
    "q2": "Why are there two tides every day?",
    "q3": "apple pie ingredients",
    "q4": "high-speed rail between Paris and Lyon",
    "q5": "the history of the printing press",  # judged relevant to a document not in the corpus
}
TEST_QRELS = {"q1": "d5", "q2": "d4", "q3": "d2", "q4": "d8"}


def write_dataset(folder: Path, splits: dict[str, dict[str, str]]) -> Path:
    write_jsonl(folder / "corpus.jsonl", ({"_id": doc_id, "title": title, "text": text}
                                          for doc_id, (title, text) in DOCS.items()))
    write_jsonl(folder / "queries.jsonl", ({"_id": query_id, "text": text}
                                           for query_id, text in QUERIES.items()))
    for split, qrels in splits.items():
        write_qrels(folder / "qrels" / f"{split}.tsv", {q: {d: 1} for q, d in qrels.items()})
    return folder


# --- pure parts ------------------------------------------------------------------------------
def test_score_run_counts_queries_without_hits_as_zero() -> None:
    qrels = {"a": {"x": 1}, "b": {"y": 1}, "c": {"z": 1, "w": 0}}
    ranked = {"a": ["x", "n"], "b": ["n", "y"]}  # "c" returned nothing at all
    scores = score_run(qrels, ranked)
    ndcg_b = 1 / math.log2(3)  # relevant at rank 2, ideal at rank 1
    assert scores["ndcg_at_10"] == pytest.approx((1 + ndcg_b + 0) / 3)
    assert scores["mrr_at_10"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert scores["recall_at_100"] == pytest.approx(2 / 3)


def test_score_run_keeps_the_engine_order_whatever_the_ids() -> None:
    # trec_eval orders tied scores by document id; ranks must not depend on it
    assert score_run({"a": {"a1": 1}}, {"a": ["z9", "a1"]})["mrr_at_10"] == pytest.approx(0.5)
    assert score_run({"a": {"z9": 1}}, {"a": ["a1", "z9"]})["mrr_at_10"] == pytest.approx(0.5)


def test_read_qrels_skips_the_header_and_keeps_grades(tmp_path: Path) -> None:
    path = tmp_path / "t.tsv"
    path.write_text("query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td2\t0\n\nq2\td3\t1\n")
    assert read_qrels(path) == {"q1": {"d1": 2, "d2": 0}, "q2": {"d3": 1}}


def test_missing_files_and_empty_splits_are_clear_errors(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "set", {"test": TEST_QRELS, "empty": {}})
    with pytest.raises(DatasetError, match=r"missing .*qrels/dev\.tsv"):
        load_dataset(folder, "dev")
    with pytest.raises(DatasetError, match="empty split 'empty'"):
        load_dataset(folder, "empty")
    (folder / "queries.jsonl").unlink()
    with pytest.raises(DatasetError, match=r"missing .*queries\.jsonl"):
        load_dataset(folder, "test")
    with pytest.raises(DatasetError, match=r"missing .*corpus\.jsonl"):
        load_dataset(tmp_path, "test")


def test_a_bad_line_names_file_and_line(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "set", {"test": TEST_QRELS})
    with (folder / "corpus.jsonl").open("a") as f:
        f.write("{not json\n")
    with pytest.raises(DatasetError, match=r"corpus\.jsonl:9: not JSON"):
        load_dataset(folder, "test")


# --- a real run ------------------------------------------------------------------------------
def test_evaluate_ingests_once_and_scores_every_judged_query(tmp_path: Path, settings_for) -> None:
    ghost = {**TEST_QRELS, "q5": "d404"}  # q5's only relevant document is not in the corpus
    folder = write_dataset(tmp_path / "tiny-beir", {"test": TEST_QRELS, "ghost": ghost})
    settings = settings_for("eval")
    scratch_root = tmp_path / "scratch"

    first = evaluate(folder, "test", [SearchMode.dense], settings, scratch_root=scratch_root)
    assert (first.documents, first.indexed_files, first.unchanged_files) == (8, 8, 0)
    assert first.embedded_chunks == first.chunks >= 8
    assert not first.failed_files
    (dense,) = first.results
    assert dense.mode is SearchMode.dense and dense.queries == 4
    for value in (dense.ndcg_at_10, dense.recall_at_100, dense.mrr_at_10):
        assert 0.0 <= value <= 1.0
    assert dense.ndcg_at_10 >= 0.8 and dense.mrr_at_10 >= 0.75
    assert dense.recall_at_100 == 1.0  # 8 documents, 100 retrieved
    assert 0 < dense.p50_ms <= dense.p95_ms

    files = sorted((Path(first.scratch_dir) / "files").glob("*.md"))
    assert len(files) == 8 and Path(first.scratch_dir).parent == scratch_root
    assert files[0].read_text(encoding="utf-8").startswith("# Volcanoes\n\n")
    mtimes = [f.stat().st_mtime_ns for f in files]

    second = evaluate(folder, "ghost", [SearchMode.dense], settings, scratch_root=scratch_root)
    assert second.scratch_dir == first.scratch_dir
    assert (second.indexed_files, second.unchanged_files, second.embedded_chunks) == (0, 8, 0)
    assert [f.stat().st_mtime_ns for f in files] == mtimes
    (ghosted,) = second.results
    # the same four rankings plus one query that finds nothing relevant: a zero in each mean
    assert ghosted.queries == 5
    assert ghosted.recall_at_100 == pytest.approx(4 / 5)
    assert ghosted.ndcg_at_10 == pytest.approx(dense.ndcg_at_10 * 4 / 5)
    assert ghosted.mrr_at_10 == pytest.approx(dense.mrr_at_10 * 4 / 5)

    table = render_table(second).splitlines()
    assert table[1].split() == ["mode", "nDCG@10", "R@100", "MRR@10", "p50", "ms", "p95", "ms",
                                "queries"]
    assert table[2].split()[0] == "dense" and len(table[2]) == len(table[1])
    dumped = json.loads(json.dumps(second.model_dump(mode="json")))
    assert EvalReport.model_validate(dumped) == second
    assert dumped["results"][0]["mode"] == "dense"


def test_bridge_eval_command_scores_every_mode(tmp_path: Path, settings_for) -> None:
    import os
    import subprocess

    from api.local_server import BRIDGE

    folder = write_dataset(tmp_path / "tiny-beir", {"test": TEST_QRELS})
    env = {**os.environ, "BRIDGE_DATA_DIR": str(settings_for("unused").data_dir)}
    run = subprocess.run([*BRIDGE, "eval", str(folder), "--mode", "all", "--json",
                          "--scratch", str(tmp_path / "scratch")], env=env, capture_output=True,
                         text=True, timeout=600, check=True)
    report = json.loads(run.stdout)
    by_mode = {r["mode"]: r for r in report["results"]}
    assert list(by_mode) == ["dense", "lexical", "hybrid"]
    assert by_mode["hybrid"]["ndcg_at_10"] >= by_mode["lexical"]["ndcg_at_10"]
    bad = subprocess.run([*BRIDGE, "eval", str(tmp_path / "nowhere")], env=env,
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "corpus.jsonl" in bad.stderr


def test_a_planted_name_set_is_a_beir_folder_with_one_holder_per_name(tmp_path: Path) -> None:
    from evaluation.beir import CorpusRecord
    from evaluation.planted import build, write

    corpus = {str(i): CorpusRecord(f"Study {i}", f"Background {i}. Patients were followed. "
                                                 f"Outcomes improved in arm {i}.")
              for i in range(30)}
    chosen, planted = build(corpus, documents=20, names=10, seed=3)
    write(tmp_path, chosen, planted)
    dataset = load_dataset(tmp_path, "test")
    assert len(dataset.corpus) == 20 and len(dataset.queries) == 10
    for query_id, query in dataset.queries.items():
        [holder] = dataset.qrels[query_id]
        name = query.split()[0]
        holding = [d for d, r in dataset.corpus.items() if name in r.text]
        assert holding == [holder], (name, holding)  # planted once, in the judged document
        assert dataset.corpus[holder].text.endswith(f"arm {holder}.")  # inserted, not appended
