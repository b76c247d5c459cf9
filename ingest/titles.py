"""Titles, dates and office names a person would write, from what a file offers.

Files in the wild describe themselves badly: a deck's "title" property says "PITCH
FINAL.pptx" or "Presentation1", a PDF's says "Microsoft Word - draft3.doc", a creation date
reads 1970-01-01, an office folder is spelled "PARIS". A search result titled by its file
name ("confianza ciudad  pitch.es") tells a reader nothing. So a declared value is used only
when it is plausible, and otherwise the document's own words are: its first heading, its
first slide's title, an interview's header or speakers; the file name comes last, cleaned.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from ingest.document import ParsedDocument

# Titles that applications fill in by themselves, in the languages of the offices.
_TEMPLATE_TITLE = re.compile(
    r"^(microsoft[ -])?((power ?point|word|office|keynote|google slides)[ -]?)?"
    r"(presentation|pr[ée]sentation|pr[äa]sentation|presentaci[oó]n|presentazione|"
    r"apresenta[cç][aã]o|document|dokument|documento|slides?|diapositive|folie|diapositiva|"
    r"untitled|sans titre|sin t[ií]tulo|ohne titel|senza titolo|no title|titles?|titel|"
    r"t[ií]tulo|titre|template|blank|draft|final|copy|new|neu|nouveau|nuevo)?"
    r"( de powerpoint| powerpoint)?[\s_-]*\d*$",
    re.IGNORECASE)
# "Microsoft Word - report.doc", "Microsoft PowerPoint - deck.pptx": a converter's title.
_CONVERTER_TITLE = re.compile(r"^microsoft (word|powerpoint|excel)\s*-", re.IGNORECASE)
# A title that ends like a file name: "PITCH FINAL.pptx", "C:\\decks\\v2.key".
_FILE_NAME = re.compile(
    r"\.(pptx?|potx?|docx?|dotx?|pdf|key|pages|odp|odt|rtf|txt|md|tex|indd|xlsx?|png|jpe?g)$",
    re.IGNORECASE)
_SEPARATORS = re.compile(r"[\s_.\-]+")
# Dates in file names: 2024-03-12, 2024_03_12, 20240312, 2024-03 (then the 1st).
_NAME_DATES = (
    re.compile(r"(?<!\d)((?:19|20)\d\d)[-_.](\d\d)[-_.](\d\d)(?!\d)"),
    re.compile(r"(?<!\d)((?:19|20)\d\d)(\d\d)(\d\d)(?!\d)"),
    re.compile(r"(?<!\d)((?:19|20)\d\d)[-_.](\d\d)(?![\d])"),
)
# Dates that software writes when it knows none (epochs, placeholders): never a real date.
_PLACEHOLDER_DATES = frozenset({dt.date(2000, 1, 1), dt.date(1999, 12, 31)})
_EARLIEST = dt.date(1985, 1, 1)
_LANGUAGE_SUFFIX = re.compile(r"\.[a-z]{2}$")  # "interview 02.fr": a subtitle's language
# A title: at most this long, with at least this many letters.
_MAX_TITLE_CHARS = 160
_MIN_LETTERS = 3
_MAX_LINE_WORDS = 16
# "Interview with ...", in each office language: an interview titled by who speaks.
_INTERVIEW_WITH = {"en": "Interview with", "fr": "Entretien avec", "de": "Interview mit",
                   "es": "Entrevista con", "it": "Intervista con", "pt": "Entrevista com",
                   "nl": "Interview met"}
_ASKING = frozenset({"q", "question", "interviewer", "host", "moderator", "a", "answer"})


def title_for(path: Path, parsed: ParsedDocument, declared: str | None,
              language: str | None) -> str:
    """The declared title unless it is junk; else the document's own heading, an interview's
    speakers, its first line; the cleaned file name last."""
    for candidate in (declared, parsed.heading):
        if candidate and is_plausible_title(candidate, path):
            return candidate
    if any(unit.provenance.speaker for unit in parsed.units):
        interview = _interview_title(parsed, language)
        if interview:
            return interview
    else:
        line = _first_line(parsed)
        if line and is_plausible_title(line, path):
            return line
    return title_from_file_name(path)


def is_plausible_title(title: str, path: Path) -> bool:
    """Whether ``title`` reads as a title rather than a file name or a template's default."""
    title = " ".join(title.split())
    letters = sum(c.isalpha() for c in title)
    marks = len(title.replace(" ", "")) - letters
    if len(title) > _MAX_TITLE_CHARS or letters < max(_MIN_LETTERS, marks):
        return False  # too long, or as many digits and marks as letters ("arXiv:2103.153")
    if _TEMPLATE_TITLE.match(title) or _CONVERTER_TITLE.match(title) or _FILE_NAME.search(title):
        return False
    return _comparable(title) not in {_comparable(path.name), _comparable(path.stem)}


def title_from_file_name(path: Path) -> str:
    """The file's name as words: no suffix, language tag, date or separators."""
    stem = _LANGUAGE_SUFFIX.sub("", path.stem)
    for pattern in _NAME_DATES:
        stem = pattern.sub(" ", stem)
    words = _SEPARATORS.sub(" ", stem).strip()
    return (words[:1].upper() + words[1:]) if words else path.name


def date_from_file_name(path: Path) -> dt.date | None:
    """A date written in the file's name (2024-03-12, 20240312, 2024-03), if plausible."""
    for pattern in _NAME_DATES:
        match = pattern.search(path.name)
        if match:
            year, month, day = (int(part) for part in (*match.groups(), "1")[:3])
            try:
                found = dt.date(year, month, day)
            except ValueError:
                continue
            if is_plausible_date(found):
                return found
    return None


def is_plausible_date(value: dt.date) -> bool:
    """Not a placeholder (1970-01-01, 2000-01-01), not before personal computers, not in the
    future."""
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    return _EARLIEST <= value <= tomorrow and value not in _PLACEHOLDER_DATES


def canonical_office(name: str, offices: dict[str, str]) -> str:
    """``name`` as the configured office it names, whatever its case ("PARIS" is "Paris");
    an office not configured keeps its spelling, with its spaces tidied."""
    name = " ".join(name.split())
    for office in offices:
        if office.casefold() == name.casefold():
            return office if office != office.lower() else office.title()
    return name


def _interview_title(parsed: ParsedDocument, language: str | None) -> str | None:
    """"Interview with A and B": the people who answer, in the document's language."""
    speakers = [s.strip() for u in parsed.units if u.provenance.speaker
                for s in u.provenance.speaker.split(",")]
    named = [s for s in dict.fromkeys(speakers) if s.lower() not in _ASKING and " " in s]
    # Subtitles name whoever speaks, and the first to speak asks (see ingest.chunking);
    # a transcript's exchanges name only those who answer.
    timed = any(u.provenance.start_s is not None for u in parsed.units)
    answering = (named[1:] or named) if timed else named
    if not answering:
        return None
    words = _INTERVIEW_WITH.get(language or "en", _INTERVIEW_WITH["en"])
    return f"{words} {', '.join(answering[:3])}"


def _first_line(parsed: ParsedDocument) -> str | None:
    """The document's first line of text (not a table row or a note), where it is short
    enough to be a title."""
    lines = (line.strip().lstrip("#- ").strip() for unit in parsed.units[:1]
             for line in unit.text.split("\n"))
    line = next((line for line in lines if line and " | " not in line
                 and not line.startswith("Notes:")), "")
    if len(line.split()) > _MAX_LINE_WORDS or line.endswith((".", ",", ";", ":")):
        return None
    return line or None


def _comparable(text: str) -> str:
    return _SEPARATORS.sub(" ", text).strip().casefold()
