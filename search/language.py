"""Language detection with lingua, restricted to the languages in settings.

Ingest labels documents and chunks with it; search labels queries, to take
each language's offset out of the query vector (see ``search.centering``).

Restricting the candidates keeps the detector small and accurate on short
chunks; text too short or too ambiguous gets ``None`` rather than a guess.
"""

from __future__ import annotations

from functools import lru_cache

import lingua

from search.records import valid_utf8

MIN_CHARS = 12
MIN_CONFIDENCE = 0.5


@lru_cache(maxsize=4)
def _detector(codes: tuple[str, ...]) -> lingua.LanguageDetector:
    languages = [lingua.Language.from_iso_code_639_1(getattr(lingua.IsoCode639_1, c.upper()))
                 for c in codes]
    builder = lingua.LanguageDetectorBuilder.from_languages(*languages)
    return builder.with_preloaded_language_models().build()


class LanguageDetector:
    """Detects the ISO 639-1 code of a text among the configured languages."""

    def __init__(self, codes: list[str]) -> None:
        self._codes = tuple(sorted(codes))

    def load(self) -> None:
        """Build the detector's models now rather than at the first text (most of a second:
        a command that detects nothing never pays it; the server pays it as it starts)."""
        _detector(self._codes)

    def detect(self, text: str) -> str | None:
        sample = valid_utf8(text[:2000])  # lingua raises on lone surrogates
        if len(sample.strip()) < MIN_CHARS:
            return None
        confidences = _detector(self._codes).compute_language_confidence_values(sample)
        if not confidences or confidences[0].value < MIN_CONFIDENCE:
            return None
        return confidences[0].language.iso_code_639_1.name.lower()
