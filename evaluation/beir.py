"""Reading a BEIR-format dataset folder, the one format every evaluation set here comes in.

A BEIR folder holds ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl``
(``_id``, ``text``) and ``qrels/<split>.tsv`` (a header line, then
``query-id<TAB>corpus-id<TAB>score``). Every problem is a ``DatasetError`` naming the file
(and line) at fault, so ``bridge eval`` can say what to fix; the benchmarks read their sets
with the same functions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class DatasetError(ValueError):
    """The folder is not a usable BEIR dataset; the message names the file at fault."""


@dataclass(frozen=True)
class CorpusRecord:
    title: str
    text: str


def _numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line) for each non-blank line of a UTF-8 file, byte order mark or not."""
    if not path.is_file():
        raise DatasetError(f"missing {path}")
    with path.open(encoding="utf-8-sig") as lines:
        yield from ((number, line) for number, line in enumerate(lines, 1) if line.strip())


def _numbered_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a bad line names file and line."""
    for number, line in _numbered_lines(path):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{number}: not JSON ({exc.msg})") from exc
        if not isinstance(record, dict) or "_id" not in record:
            raise DatasetError(f"{path}:{number}: a record needs an \"_id\"")
        yield number, record


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a BEIR JSON-lines file, in file order, each with an ``_id``."""
    return (record for _, record in _numbered_records(path))


def read_corpus(path: Path) -> dict[str, CorpusRecord]:
    """Corpus id -> title and text, in file order (the order fixes the scratch file names)."""
    corpus: dict[str, CorpusRecord] = {}
    for number, record in _numbered_records(path):
        doc_id = str(record["_id"])
        if doc_id in corpus:
            raise DatasetError(f"{path}:{number}: duplicate _id {doc_id!r}")
        corpus[doc_id] = CorpusRecord(str(record.get("title") or ""),
                                      str(record.get("text") or ""))
    if not corpus:
        raise DatasetError(f"{path} has no documents")
    return corpus


def read_texts(path: Path) -> dict[str, str]:
    """Record id -> its text, in file order: the query texts of a queries file."""
    return {str(record["_id"]): str(record.get("text") or "") for record in read_jsonl(path)}


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """Query id -> {corpus id: relevance}; the header line (a non-numeric score) is skipped."""
    qrels: dict[str, dict[str, int]] = {}
    for number, line in _numbered_lines(path):
        fields = [field.strip() for field in line.rstrip("\r\n").split("\t")]
        if len(fields) != 3:
            raise DatasetError(f"{path}:{number}: expected query-id, corpus-id and score "
                               "separated by tabs")
        query_id, doc_id, score = fields
        try:
            relevance = int(float(score))
        except ValueError as exc:
            if number == 1:  # the header
                continue
            raise DatasetError(f"{path}:{number}: score {score!r} is not a number") from exc
        qrels.setdefault(query_id, {})[doc_id] = relevance
    return qrels


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """A BEIR JSON-lines file (corpus or queries), one record per line, UTF-8 as written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        out.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in records)


def write_qrels(path: Path, qrels: dict[str, dict[str, int]]) -> None:
    """A qrels file as ``read_qrels`` reads it: the header line, then one judgment a line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["query-id\tcorpus-id\tscore", *(f"{query_id}\t{doc_id}\t{score}"
                                             for query_id, docs in qrels.items()
                                             for doc_id, score in docs.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class Dataset:
    """A BEIR dataset with one split's judgments, restricted to the queries it can score."""

    name: str
    corpus_path: Path
    corpus: dict[str, CorpusRecord]
    queries: dict[str, str]  # only the judged queries with at least one relevant document
    qrels: dict[str, dict[str, int]]  # for those queries


def load_dataset(dataset_dir: Path, split: str) -> Dataset:
    """Read and check a BEIR folder; every problem is a ``DatasetError`` naming its file.

    Queries whose judgments are all zero are left out: with nothing relevant, every metric
    is undefined for them, and counting them as zero would only measure the judging.
    """
    qrels_path = dataset_dir / "qrels" / f"{split}.tsv"
    paths = [dataset_dir / "corpus.jsonl", dataset_dir / "queries.jsonl", qrels_path]
    for path in paths:
        if not path.is_file():
            raise DatasetError(f"missing {path} (a BEIR dataset needs corpus.jsonl, "
                               "queries.jsonl and qrels/<split>.tsv)")
    qrels = {q: docs for q, docs in read_qrels(qrels_path).items()
             if any(rel > 0 for rel in docs.values())}
    if not qrels:
        raise DatasetError(f"{qrels_path} judges no query relevant to any document "
                           f"(empty split {split!r})")
    all_queries = read_texts(paths[1])
    missing = [q for q in qrels if q not in all_queries]
    if missing:
        raise DatasetError(f"{qrels_path} judges {len(missing)} queries missing from "
                           f"{paths[1]}, e.g. {missing[0]!r}")
    return Dataset(
        name=dataset_dir.resolve().name,
        corpus_path=paths[0],
        corpus=read_corpus(paths[0]),
        queries={q: all_queries[q] for q in qrels},
        qrels=qrels,
    )
