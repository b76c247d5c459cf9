"""The opt-in fast mode: an int8-quantised encoder, kept apart from float32 indexes.

The real converted multilingual-e5-small, quantised for real; both precisions are loaded
explicitly so the tests mean the same whatever BRIDGE_ENCODER_PRECISION says.
"""

from __future__ import annotations

import numpy as np
import pytest

from search.embedding import Encoder, load_encoder
from search.embedding.models import Precision
from search.knowledge_base import KnowledgeBase
from search.model_guard import ModelMismatchError
from search.settings import Settings

# The same findings in the languages the offices write; each row is one translation pair's
# English side, the French side is in FRENCH at the same position.
ENGLISH = ["Weight-gain alerts cut heart failure readmissions by a third.",
           "The app reminds patients to take their medication.",
           "Home monitoring of COPD avoids visits to the emergency room."]
FRENCH = ["Les alertes de prise de poids réduisent d'un tiers les réhospitalisations pour "
          "insuffisance cardiaque.",
          "L'application rappelle aux patients de prendre leurs médicaments.",
          "La surveillance à domicile de la BPCO évite des passages aux urgences."]
OTHERS = ["Die DiGA-Zulassung dauerte zwölf Monate.",
          "Los hospitales piden integración con la historia clínica.",
          "Il finanziamento passa attraverso il programma nazionale.",
          "De cardioloog bekijkt elke ochtend de meldingen."]

# Measured cosines between the two precisions' vectors of these texts: 0.994-0.998, documents
# and queries alike. The bound leaves room for another CPU's int8 kernels, yet fails the
# cruder recipe of one weight scale per matrix with every layer quantised (0.972-0.988).
MIN_COSINE = 0.98


def _load(precision: Precision) -> Encoder:
    settings = Settings()
    return load_encoder(settings.model, settings.cache_dir, settings.embed_batch_size, precision)


@pytest.fixture(scope="module")
def float32() -> Encoder:
    return _load("float32")


@pytest.fixture(scope="module")
def int8() -> Encoder:
    return _load("int8")


def test_int8_vectors_are_unit_and_close_to_float32(float32: Encoder, int8: Encoder) -> None:
    texts = ENGLISH + FRENCH + OTHERS
    for encode in ("encode_documents", "encode_queries"):
        full, fast = getattr(float32, encode)(texts), getattr(int8, encode)(texts)
        assert fast.shape == full.shape and fast.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
        assert (full * fast).sum(axis=1).min() >= MIN_COSINE


def test_int8_ranks_the_translation_first(int8: Encoder) -> None:
    documents = int8.encode_documents(FRENCH + OTHERS)
    scores = int8.encode_queries(ENGLISH) @ documents.T
    assert list(scores.argmax(axis=1)) == list(range(len(ENGLISH)))
    # a search embeds its query alone (``encode_query``): int8 activations are scaled per
    # batch, so its vector is close to, not equal to, the batch's, and must rank the same
    single = np.vstack([int8.encode_query(text) for text in ENGLISH])
    assert (single * int8.encode_queries(ENGLISH)).sum(axis=1).min() >= MIN_COSINE
    assert list((single @ documents.T).argmax(axis=1)) == list(range(len(ENGLISH)))


def test_the_model_id_carries_the_precision(float32: Encoder, int8: Encoder) -> None:
    assert (float32.model_id, float32.precision) == ("multilingual-e5-small", "float32")
    assert (int8.model_id, int8.precision) == ("multilingual-e5-small+int8", "int8")


def test_an_index_refuses_the_other_precision(settings_for, float32: Encoder,
                                              int8: Encoder) -> None:
    settings = settings_for("precision")
    assert KnowledgeBase(settings, float32).status()["model"] == "multilingual-e5-small"
    with pytest.raises(ModelMismatchError, match="BRIDGE_ENCODER_PRECISION=float32"):
        KnowledgeBase(settings, int8)
    quantised = settings_for("quantised")
    assert KnowledgeBase(quantised, int8).status()["model"] == "multilingual-e5-small+int8"
    with pytest.raises(ModelMismatchError, match=r"BRIDGE_MODEL=multilingual-e5-small and "
                                                 r"BRIDGE_ENCODER_PRECISION=int8"):
        KnowledgeBase(quantised, float32)


def test_int8_stays_on_the_cpu_when_given_a_gpu(int8: Encoder) -> None:
    """A Ray encoder actor given a GPU still quantises: the int8 kernels are CPU-only."""
    settings = Settings()
    on_gpu = load_encoder(settings.model, settings.cache_dir, settings.embed_batch_size,
                          "int8", "cuda")
    assert on_gpu.model_id == int8.model_id
    np.testing.assert_allclose(on_gpu.encode_queries(ENGLISH), int8.encode_queries(ENGLISH),
                               atol=1e-6)
