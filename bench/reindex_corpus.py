"""The corpus ``bench.reindex`` re-indexes, written as files: SciFact abstracts as Markdown in
folders of two sources, and the changes made to it before the re-index under load.

The abstracts are written as files rather than fed to the writer because a re-index reads
folders: what is measured is the whole path a real re-index takes, discovery and hashing
included. The folders are split between two sources so that moving one folder to the other
source moves files between offices: a re-index must keep their chunks and vectors and give
them the office of their new place.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from evaluation.beir import read_jsonl

FOLDERS = 10
EDIT_SENTENCE = ("\n\nAddendum: a follow-up study by the {office} office revisited these "
                 "findings in a larger cohort (revision {n}).\n")


@dataclass
class Corpus:
    workdir: Path
    files: list[Path]  # in corpus order
    spare: list[dict[str, str]]  # SciFact documents not written, for additions
    sources_file: Path

    @property
    def root(self) -> Path:
        return self.workdir / "corpus"


def markdown(row: dict[str, str]) -> str:
    return f"# {row['title'].strip()}\n\n{row['text'].strip()}\n"


def folder_for(index: int) -> str:
    """``boston/part-00`` .. ``paris/part-09``: the first half of the folders is Boston's."""
    return f"{'boston' if index < FOLDERS // 2 else 'paris'}/part-{index:02d}"


def write_corpus(data: Path, docs: int, workdir: Path) -> Corpus:
    rows = list(read_jsonl(data / "corpus.jsonl"))
    if docs > len(rows):
        raise SystemExit(f"--docs {docs}: {data / 'corpus.jsonl'} has only {len(rows)} documents")
    per_folder = -(-docs // FOLDERS)
    files = []
    for i, row in enumerate(rows[:docs]):
        path = workdir / "corpus" / folder_for(i // per_folder) / f"{row['_id']}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(markdown(row), encoding="utf-8")
        files.append(path)
    sources_file = workdir / "sources.yaml"
    sources_file.write_text(yaml.safe_dump({"sources": [
        {"name": "boston", "folder": "corpus/boston", "office": "Boston", "language": "en"},
        {"name": "paris", "folder": "corpus/paris", "office": "Paris", "language": "en"},
    ]}, sort_keys=False), encoding="utf-8")
    return Corpus(workdir, files, rows[docs:], sources_file)


def append_sentence(path: Path, n: int) -> None:
    office = "Paris" if "paris" in path.parts else "Boston"
    with path.open("a", encoding="utf-8") as f:
        f.write(EDIT_SENTENCE.format(office=office, n=n))


def make_changes(corpus: Corpus, change_percent: float, skip: Path) -> dict[str, Any]:
    """Move one Boston folder into Paris, edit and add ``change_percent`` of the files each."""
    moved_from = corpus.root / folder_for(FOLDERS // 2 - 1)
    moved_to = corpus.root / "paris" / f"{moved_from.name}-from-boston"
    shutil.move(moved_from, moved_to)
    count = max(1, round(len(corpus.files) * change_percent / 100))
    candidates = [f for f in corpus.files
                  if f.parent != moved_from and f != skip and f.exists()]
    step = max(1, len(candidates) // count)
    edited = candidates[::step][:count]
    for n, path in enumerate(edited):
        append_sentence(path, n)
    new_folder = corpus.root / "paris" / "part-new"
    new_folder.mkdir(parents=True, exist_ok=True)
    added = corpus.spare[:count]
    for row in added:
        (new_folder / f"{row['_id']}.md").write_text(markdown(row), encoding="utf-8")
    return {"moved_folder": f"{moved_from.relative_to(corpus.root)} -> "
                            f"{moved_to.relative_to(corpus.root)}",
            "moved_files": len(list(moved_to.glob("*.md"))),
            "edited_files": len(edited), "added_files": len(added)}
