"""Does language centring help cross-language search when same-language text competes?

    python -m bench.language_centering [DATA_DIR]   (default: ../shared/data)

Builds mixed-language corpora from the parallel evaluation sets:

* tatoeba_eng-fra: the 1,000 French sentences plus the 1,000 English ones;
  each English sentence queries for its French translation;
* xquad: the 240 Spanish paragraphs plus their 240 English originals; each
  English question queries for the Spanish paragraph it was written on.

The query's own text (tatoeba) or its same-language twin (xquad) is left out of
the ranking, so the score says whether the translation outranks every *other*
same-language passage, which is what a Paris researcher needs from a Boston
corpus. A monolingual control, SciFact (the first 200 train claims against
their abstracts plus 1,000 others), shows what centring costs where there is
only one language. Prints MRR@10 and top-1 with no centring, with offsets measured
on the corpus itself (each language's mean minus the mean of every text: what a
service may not do once offices must not move each other's scores) and with the
offsets the service applies, measured on its parallel reference text.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from bench.common import REPO, encoder
from evaluation.beir import read_jsonl, read_qrels
from search.centering import LanguageOffsets, measure_offsets
from search.language import LanguageDetector
from search.settings import Settings

Loaded = tuple[list[str], list[str], list[str], list[set[int]], list[int | None]]


def scifact(data: Path, n_queries: int = 200, n_others: int = 1000) -> Loaded:
    folder = data / "scifact_train"
    relevant = read_qrels(folder / "qrels" / "train.tsv")
    queries = [q for q in read_jsonl(folder / "queries.jsonl") if q["_id"] in relevant]
    queries = queries[:n_queries]
    wanted = set().union(*(relevant[q["_id"]] for q in queries))
    corpus = list(read_jsonl(folder / "corpus.jsonl"))
    others = [d for d in corpus if d["_id"] not in wanted][:n_others]
    docs = [d for d in corpus if d["_id"] in wanted] + others
    position = {d["_id"]: i for i, d in enumerate(docs)}
    return ([q["text"] for q in queries], [f"{d['title']}. {d['text']}" for d in docs],
            ["en"] * len(docs), [{position[d] for d in relevant[q["_id"]]} for q in queries],
            [None] * len(queries))


def tatoeba(data: Path) -> Loaded:
    folder = data / "tatoeba_eng-fra"
    french = list(read_jsonl(folder / "corpus.jsonl"))
    english = list(read_jsonl(folder / "queries.jsonl"))
    docs = [d["text"] for d in french] + [q["text"] for q in english]
    languages = ["fr"] * len(french) + ["en"] * len(english)
    position = {d["_id"]: i for i, d in enumerate(french)}
    truth = read_qrels(folder / "qrels" / "test.tsv")
    targets = [{position[d] for d in truth[q["_id"]]} for q in english]
    excluded = [len(french) + i for i in range(len(english))]  # the query itself
    return [q["text"] for q in english], docs, languages, targets, excluded


def xquad(data: Path) -> Loaded:
    spanish = list(read_jsonl(data / "xquad_en-es_paragraph" / "corpus.jsonl"))
    english = list(read_jsonl(data / "xquad_es-en_paragraph" / "corpus.jsonl"))
    docs = [d["text"] for d in spanish] + [d["text"] for d in english]
    languages = ["es"] * len(spanish) + ["en"] * len(english)
    position = {d["_id"]: i for i, d in enumerate(spanish)}
    twin = {d["_id"]: len(spanish) + i for i, d in enumerate(english)}
    truth = read_qrels(data / "xquad_en-es_paragraph" / "qrels" / "test.tsv")
    queries = list(read_jsonl(data / "xquad_en-es_paragraph" / "queries.jsonl"))
    return ([q["text"] for q in queries], docs, languages,
            [{position[d] for d in truth[q["_id"]]} for q in queries],
            [twin[next(iter(truth[q["_id"]]))] for q in queries])


def corpus_offsets(vectors: np.ndarray, languages: list[str]) -> LanguageOffsets:
    """Offsets measured on the corpus: each language's mean minus the mean of every text."""
    overall = vectors.mean(axis=0)
    return LanguageOffsets("corpus", 1.0, {
        lang: vectors[[i for i, x in enumerate(languages) if x == lang]].mean(axis=0) - overall
        for lang in set(languages)})


def evaluate(doc_vectors: np.ndarray, doc_languages: list[str], query_vectors: np.ndarray,
             query_languages: list[str | None], targets: list[set[int]],
             excluded: list[int | None], offsets: LanguageOffsets) -> dict[str, float]:
    docs = offsets.center(doc_vectors, doc_languages)
    queries = offsets.center(query_vectors, query_languages)
    scores = queries @ docs.T
    for row, column in enumerate(excluded):
        if column is not None:
            scores[row, column] = -np.inf
    best = np.array([max(scores[row, t] for t in wanted) for row, wanted in enumerate(targets)])
    ranks = (scores > best[:, None]).sum(axis=1) + 1  # rank of the best relevant document
    return {"mrr@10": round(float(np.where(ranks <= 10, 1 / ranks, 0).mean()), 4),
            "top1": round(float((ranks == 1).mean()), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    settings = Settings()
    model = encoder(settings)
    detector = LanguageDetector(settings.languages)
    results = {}
    for name, load in (("tatoeba_eng-fra", tatoeba), ("xquad_en-es", xquad),
                       ("scifact_monolingual", scifact)):
        queries, docs, languages, targets, excluded = load(args.data)
        doc_vectors = model.encode_documents(docs)
        query_vectors = model.encode_queries(queries)
        query_languages = [detector.detect(q) for q in queries]
        variants = {"none": LanguageOffsets(),
                    "corpus": corpus_offsets(doc_vectors, languages),
                    "reference": measure_offsets(model, 1.0)}
        results[name] = {label: evaluate(doc_vectors, languages, query_vectors,
                                         query_languages, targets, excluded, offsets)
                         for label, offsets in variants.items()}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
