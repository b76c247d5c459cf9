"""A planted-name set: invented names and codes planted into real abstracts.

Researchers search for names they remember: a start-up, a product, a trial, a code. A dense
model has never seen an invented name, so only a ranking that respects a decisive keyword
match puts the one file that holds it first. This builds such a set from any BEIR corpus
(SciFact's abstracts in ``../shared/data``): a sample of its documents, one sentence with an
invented name planted into each of some of them, and one query per name whose single
relevant document is the one that holds it. The result is a BEIR folder that
``bridge eval`` scores like any other::

    python -m evaluation.planted ../shared/data/scifact_train /tmp/planted --names 20
    bridge eval /tmp/planted --split test

Names are coined from syllables and codes from letters and digits with a seeded generator,
so they occur nowhere else in the corpus; the sentence that carries one uses common words
("syndrome", "scale", "trial") that many other abstracts hold too, and half of the queries
carry that common word, as a user's would.
"""

from __future__ import annotations

import argparse
import random
import re
from dataclasses import dataclass
from pathlib import Path

from evaluation.beir import CorpusRecord, read_corpus, write_jsonl, write_qrels

_SYLLABLES = ("zor", "vex", "quar", "blos", "mir", "tal", "nu", "vel", "dra", "kin", "os",
              "phe", "lun", "tri", "sa", "gor", "ix", "ben", "cor", "ul", "ra", "fen", "do")
_SURNAMES = ("Halmqvist", "Oduya", "Brannock", "Ilievska", "Tarrant", "Moenaert", "Szatmari",
             "Okonkwo-Pell", "Vasquez-Lind", "Ruokonen", "Dellacroce", "Ampofo")


@dataclass(frozen=True)
class Kind:
    """A kind of name: how one is made, the sentence that plants it, the word users add."""

    sentence: str  # with {name}
    word: str  # the common word a query may add ("" : the name alone)


KINDS = {
    "compound": Kind("Patients in one arm also received {name} at a fixed dose.", ""),
    "syndrome": Kind("{name} syndrome was first described in a cohort like this one.",
                     "syndrome"),
    "scale": Kind("Severity was also graded on the {name} scale.", "scale"),
    "code": Kind("The study device was registered under the code {name}.", ""),
    "trial": Kind("Follow-up data come from the {name} trial.", "trial"),
}


@dataclass(frozen=True)
class PlantedName:
    name: str
    kind: str
    doc_id: str

    @property
    def sentence(self) -> str:
        return KINDS[self.kind].sentence.format(name=self.name)

    def query(self, with_word: bool) -> str:
        word = KINDS[self.kind].word
        return f"{self.name} {word}" if with_word and word else self.name


def _coined(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(3, 4))).capitalize()


def invent(kind: str, rng: random.Random) -> str:
    """A name of ``kind`` that no real text holds."""
    if kind == "code":
        letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTVWXZ") for _ in range(2))
        return f"{letters}-{rng.randint(1000, 9999)}-{rng.choice('XYZQ')}"
    if kind == "scale":
        first, second = rng.sample(_SURNAMES, 2)
        return f"{first}-{second}"
    if kind == "trial":
        return _coined(rng).upper()[:7] + f"-{rng.randint(2, 9)}"
    return _coined(rng)


def plant_sentence(text: str, sentence: str) -> str:
    """``text`` with ``sentence`` inserted at the sentence boundary nearest its middle."""
    boundaries = [m.end() for m in re.finditer(r"[.!?]\s+", text)]
    if not boundaries:
        return f"{text.rstrip()} {sentence}".strip()
    middle = min(boundaries, key=lambda at: abs(at - len(text) // 2))
    return f"{text[:middle]}{sentence} {text[middle:]}"


def _unused(kind: str, rng: random.Random, corpus_text: str, taken: set[str]) -> str:
    while True:
        name = invent(kind, rng)
        if name not in taken and name.casefold() not in corpus_text:
            taken.add(name)
            return name


def build(corpus: dict[str, CorpusRecord], documents: int, names: int,
          seed: int = 7) -> tuple[dict[str, CorpusRecord], list[PlantedName]]:
    """A sample of ``documents`` records, ``names`` of them each holding one planted name."""
    rng = random.Random(seed)
    sample = rng.sample(sorted(corpus), min(documents, len(corpus)))
    corpus_text = " ".join(f"{r.title} {r.text}" for r in corpus.values()).casefold()
    taken: set[str] = set()
    kinds = list(KINDS)
    planted = [PlantedName(_unused(kinds[i % len(kinds)], rng, corpus_text, taken),
                           kinds[i % len(kinds)], doc_id)
               for i, doc_id in enumerate(rng.sample(sample, min(names, len(sample))))]
    chosen = {doc_id: corpus[doc_id] for doc_id in sample}
    for name in planted:
        record = chosen[name.doc_id]
        chosen[name.doc_id] = CorpusRecord(record.title,
                                           plant_sentence(record.text, name.sentence))
    return chosen, planted


def write(folder: Path, corpus: dict[str, CorpusRecord], planted: list[PlantedName],
          split: str = "test") -> None:
    """The set as a BEIR folder: every other query carries its name's common word."""
    write_jsonl(folder / "corpus.jsonl", ({"_id": doc_id, "title": r.title, "text": r.text}
                                          for doc_id, r in corpus.items()))
    write_jsonl(folder / "queries.jsonl", ({"_id": f"planted-{i}", "text": name.query(i % 2 == 1),
                                           "metadata": {"kind": name.kind}}
                                          for i, name in enumerate(planted)))
    write_qrels(folder / "qrels" / f"{split}.tsv",
                {f"planted-{i}": {name.doc_id: 1} for i, name in enumerate(planted)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="a BEIR folder whose corpus.jsonl is used")
    parser.add_argument("out", type=Path, help="where the planted set is written")
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--names", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    corpus, planted = build(read_corpus(args.source / "corpus.jsonl"), args.documents,
                            args.names, args.seed)
    write(args.out, corpus, planted)
    print(f"{len(corpus)} documents, {len(planted)} planted names -> {args.out} "
          f"(bridge eval {args.out} --split test)")


if __name__ == "__main__":
    main()
