"""Whether a query names something: a few words, one of which no language uses.

Researchers type the names they remember: a start-up, a product, a trial, a code. Such a
query is short, and holds a word that is rare in every configured language (an invented
name, "Zorvexin", "HomeBeat") or a code with digits ("KB-4471-X"). Word frequencies come
from ``wordfreq`` (large corpora of each language, shipped with the package, so nothing is
read from the knowledge base and no office's documents change how another's query is
read). A common word is not a name even when it names something ("Tesla", "Denver"): the
dense list knows those, and a word spelled alike in two languages ("but", "mis") must not
make a passage in the other one an exact match.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

# wordfreq's Zipf scale: log10 of a word's frequency per billion words. Under 3 is rarer
# than once per million words in every configured language.
RARE_ZIPF = 3.0


@lru_cache(maxsize=65_536)
def _most_frequent(word: str, languages: tuple[str, ...]) -> float:
    from wordfreq import zipf_frequency

    return max((zipf_frequency(word, language) for language in languages), default=0.0)


def load_frequencies(languages: Sequence[str]) -> None:
    """Read the languages' frequency tables now (``wordfreq`` reads each at its first lookup,
    most of a second in all): the server does it as it starts."""
    _most_frequent("query", tuple(languages))


def is_rare(word: str, languages: Sequence[str]) -> bool:
    """A code (it holds a digit) or a word rare in every one of ``languages``."""
    if any(ch.isdigit() for ch in word):
        return True
    return _most_frequent(word.casefold(), tuple(languages)) < RARE_ZIPF


def names_something(words: Sequence[str], languages: Sequence[str], most_words: int) -> bool:
    """Whether a query of these content ``words`` names something: at most ``most_words``
    of them, one of them rare."""
    return 0 < len(words) <= most_words and any(is_rare(w, languages) for w in words)
