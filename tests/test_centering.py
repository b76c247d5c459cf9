"""Language centring removes each language's offset and keeps the meaning."""

from __future__ import annotations

import numpy as np

from search.centering import UNKNOWN, LanguageCentroids


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_centring_lets_translations_meet_across_a_language_offset() -> None:
    rng = np.random.default_rng(0)
    meanings = rng.normal(size=(30, 16))
    english = unit(meanings + 4 * unit(rng.normal(size=16)) + 0.1 * rng.normal(size=(30, 16)))
    french = unit(meanings + 4 * unit(rng.normal(size=16)) + 0.1 * rng.normal(size=(30, 16)))
    raw_hits = (english @ french.T).argmax(axis=1)

    centroids = LanguageCentroids(16, shrinkage=0)
    centroids.add(["en"] * 30 + ["fr"] * 30, np.vstack([english, french]))
    centroids.apply_current()
    en, fr = centroids.center(english, ["en"] * 30), centroids.center(french, ["fr"] * 30)
    centred_hits = (en @ fr.T).argmax(axis=1)

    assert (centred_hits == np.arange(30)).mean() > (raw_hits == np.arange(30)).mean()
    assert (centred_hits == np.arange(30)).all()
    assert np.allclose(np.linalg.norm(en, axis=1), 1)


def test_rare_languages_are_shrunk_towards_the_global_mean() -> None:
    centroids = LanguageCentroids(2, shrinkage=10)
    centroids.add(["en"] * 90, np.tile([1.0, 0.0], (90, 1)))
    centroids.add(["it"] * 10, np.tile([0.0, 1.0], (10, 1)))
    means = centroids.means()
    assert np.allclose(means[UNKNOWN], [0.9, 0.1])
    assert np.allclose(means["it"], (np.array([0, 10]) + 10 * means[UNKNOWN]) / 20)
    # a language's offset from the common mean is removed; an undetected language stays
    centroids.apply_current()
    offset = means["it"] - means[UNKNOWN]
    assert np.allclose(centroids.center(np.array([[0.6, 0.8]]), ["it"]),
                       unit(np.array([[0.6, 0.8]]) - offset))
    assert np.allclose(centroids.center(np.array([[0.6, 0.8]]), [None]), [[0.6, 0.8]])


def test_a_one_language_corpus_is_left_exactly_as_it_was() -> None:
    rng = np.random.default_rng(1)
    vectors = unit(rng.normal(size=(20, 8)))
    centroids = LanguageCentroids(8)
    centroids.add(["en"] * 20, vectors)
    centroids.apply_current()
    assert np.allclose(centroids.center(vectors, ["en"] * 20), vectors, atol=1e-6)


def test_removing_what_was_added_restores_the_sums_and_drift_is_detected() -> None:
    centroids = LanguageCentroids(2)
    centroids.add(["en", "de"], np.array([[1.0, 0.0], [0.0, 1.0]]))
    centroids.apply_current()
    assert not centroids.drifted(0.01)
    centroids.add(["de"], np.array([[1.0, 0.0]]))
    assert centroids.drifted(0.01)
    centroids.remove(["de"], np.array([[1.0, 0.0]]))
    assert not centroids.drifted(0.01)
    copy = LanguageCentroids.from_json(centroids.to_json(), 2, 1.0, 10)
    assert copy.counts == centroids.counts and not copy.drifted(1e-9)


def test_strength_zero_leaves_vectors_alone() -> None:
    centroids = LanguageCentroids(2, strength=0)
    centroids.add(["en"], np.array([[0.6, 0.8]]))
    centroids.apply_current()
    assert np.allclose(centroids.center(np.array([[0.6, 0.8]]), ["en"]), [[0.6, 0.8]])


def test_no_vectors_centre_to_no_vectors() -> None:
    """A map or bridge over nothing (every office hidden, every chunk deleted) centres
    an empty batch; the schema fuzz found this as a 500 on GET /bridges/map."""
    centroids = LanguageCentroids(4)
    centroids.add(["en", "fr"], np.eye(4, dtype=np.float32)[:2])
    centroids.apply_current()
    assert centroids.center(np.zeros((0, 4), np.float32), []).shape == (0, 4)
