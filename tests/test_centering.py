"""Language centring: offsets measured on the shipped parallel text, never on the corpus."""

from __future__ import annotations

import numpy as np

from search.centering import (
    PIVOT,
    LanguageOffsets,
    measure_offsets,
    offsets_key,
    reference_texts,
)
from search.embedding import Encoder
from search.knowledge_base import KnowledgeBase
from search.records import DocumentMeta, NewChunk
from search.settings import Settings

# Held out from the reference: each English line with its French translation, and French
# lines on other topics that compete with the translation in a French corpus.
ENGLISH = ["The pilot reduced readmissions of heart failure patients by a fifth.",
           "Nurses review the blood pressure readings every morning.",
           "The start-up raised four million euros to expand into Spain.",
           "Patients stopped using the app after the second week."]
FRENCH = ["Le pilote a réduit d'un cinquième les réhospitalisations des insuffisants cardiaques.",
          "Les infirmières examinent les relevés de tension chaque matin.",
          "La start-up a levé quatre millions d'euros pour s'étendre en Espagne.",
          "Les patients ont cessé d'utiliser l'application après la deuxième semaine."]
FRENCH_OTHERS = ["Le train pour Lyon part à huit heures depuis la gare de Lyon.",
                 "Nous avons dîné dans un petit restaurant près du port.",
                 "La réunion du conseil d'administration est reportée à jeudi.",
                 "Il a plu toute la journée sur la Bretagne."]


def test_the_reference_is_a_parallel_text_in_every_default_language() -> None:
    for by_language in reference_texts().values():
        assert set(by_language) == {"en", "fr", "de", "es", "it", "pt", "nl"}
        assert len({len(texts) for texts in by_language.values()}) == 1
        assert all(text.strip() for texts in by_language.values() for text in texts)


def test_offsets_bring_translations_closer_than_same_language_texts(encoder: Encoder) -> None:
    offsets = measure_offsets(encoder, 1.0, Settings().cache_dir)  # as a knowledge base does
    english, french = encoder.encode_documents(ENGLISH), encoder.encode_documents(FRENCH)
    others = encoder.encode_documents(FRENCH_OTHERS)
    en = offsets.center(english, ["en"] * 4)
    fr = offsets.center(np.vstack([french, others]), ["fr"] * 8)
    raw = english @ np.vstack([french, others]).T
    centred = en @ fr.T
    assert (centred.argmax(axis=1) == np.arange(4)).all()
    # the translation's margin over the best other French text widens
    assert (np.diag(centred[:, :4]) - centred[:, 4:].max(axis=1)).mean() > \
        (np.diag(raw[:, :4]) - raw[:, 4:].max(axis=1)).mean()


def test_offsets_depend_on_the_model_and_strength_only(encoder: Encoder) -> None:
    cache_dir = Settings().cache_dir  # kept there unscaled, whatever the strength
    full, half = measure_offsets(encoder, 1.0, cache_dir), measure_offsets(encoder, 0.5, cache_dir)
    assert half.offsets.keys() == full.offsets.keys()
    assert all(np.array_equal(half.offsets[k], full.offsets[k]) for k in full.offsets)
    assert full.key == offsets_key(encoder.model_id, 1.0) != half.key
    vectors = encoder.encode_documents(ENGLISH[:2])
    assert np.allclose(full.center(vectors, [PIVOT] * 2), vectors, atol=1e-6)
    # an undetected language, or one the reference lacks, stays as it is
    assert np.allclose(full.center(vectors, [None, "pl"]), vectors, atol=1e-6)
    assert np.allclose(measure_offsets(encoder, 0.0).center(vectors, ["en", "fr"]), vectors)
    copy = LanguageOffsets.from_json(full.to_json())
    assert copy.key == full.key and np.allclose(copy.center(vectors, ["fr", "en"]),
                                                full.center(vectors, ["fr", "en"]))


def test_no_vectors_centre_to_no_vectors(encoder: Encoder) -> None:
    """A map or bridge over nothing (every office hidden, every chunk deleted) centres
    to an empty array rather than failing."""
    centred = measure_offsets(encoder, 1.0, Settings().cache_dir).center(
        np.zeros((0, encoder.dimension)), [])
    assert centred.shape == (0, encoder.dimension)


def put(kb: KnowledgeBase, path: str, text: str, language: str) -> None:
    meta = DocumentMeta(source_path=path, content_hash=path, office="Paris", language=language,
                        title=path)
    with kb.writer() as writer:
        writer.put(meta, [NewChunk(text=text, language=language)],
                   kb.encoder.encode_documents([text]))


def test_a_new_strength_recentres_the_index_at_the_next_publish(settings_for,
                                                                encoder: Encoder) -> None:
    settings = settings_for("recentre")
    kb = KnowledgeBase(settings, encoder)
    put(kb, "/a.md", FRENCH[0], "fr")
    assert kb.generation().offsets.key == offsets_key(encoder.model_id, 1.0)
    query = "heart failure readmissions"
    centred_score = kb.search(query, k=1, mode="dense")[0].score
    weaker = KnowledgeBase(settings.model_copy(update={"language_centering": 0.0}), encoder)
    # the published generation keeps the offsets its vectors were centred with
    assert weaker.generation().offsets.key == kb.generation().offsets.key
    put(weaker, "/b.md", FRENCH_OTHERS[0], "fr")
    assert weaker.generation().offsets.key == offsets_key(encoder.model_id, 0.0)
    raw_score = weaker.search(query, k=1, mode="dense")[0].score
    expected = float(encoder.encode_query(query)[0] @ encoder.encode_documents([FRENCH[0]])[0])
    assert abs(raw_score - expected) < 1e-4 and abs(centred_score - expected) > 1e-3


def test_measured_offsets_are_kept_once_per_model(encoder: Encoder, tmp_path) -> None:
    """Measured once per model and machine, kept in the cache folder; a later process reads
    the file rather than embedding the reference again."""
    cache_dir = Settings().cache_dir
    measured = measure_offsets.__wrapped__(encoder, 1.0, cache_dir)  # past in-process caches
    [kept] = [p for p in (cache_dir / "language_offsets").iterdir()
              if LanguageOffsets.from_json(p.read_text()).key == measured.key]
    (tmp_path / "language_offsets").mkdir()
    only_french = LanguageOffsets(measured.key, 1.0, {"fr": measured.offsets["fr"]})
    (tmp_path / "language_offsets" / kept.name).write_text(only_french.to_json())
    again = measure_offsets.__wrapped__(encoder, 1.0, tmp_path)
    assert list(again.offsets) == ["fr"]  # read from the file, not embedded again
