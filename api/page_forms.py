"""The search page's form: its values as submitted, and the search they ask for.

The page never answers a JSON validation error: the query string is taken as plain
strings (``search_form``) and ``parse_search`` checks them, raising ``FormError`` with a
message the page shows beside the form.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Query
from pydantic import ValidationError

from api.schemas import MAX_OFFSET, whole_number
from search.records import DocType, Filters, SearchMode, valid_utf8
from search.settings import Settings

# Field -> what a researcher calls it; the order the filters are shown in.
FACETS = {"office": "Office", "region": "Region", "doc_type": "Document type",
          "language": "Language"}
MODES = {SearchMode.hybrid: "Meaning + keywords", SearchMode.dense: "Meaning",
         SearchMode.lexical: "Keywords"}


class FormError(ValueError):
    """A search parameter a person can fix; its message says how."""


@dataclass(frozen=True)
class SearchForm:
    """The search form's values exactly as submitted: what the page shows back and links to."""

    q: str = ""
    mode: str = ""
    office: list[str] = field(default_factory=list)
    region: list[str] = field(default_factory=list)
    doc_type: list[str] = field(default_factory=list)
    language: list[str] = field(default_factory=list)
    date_from: str = ""
    date_to: str = ""
    offset: str = ""

    def selected(self, facet: str) -> set[str]:
        return {value.lower() for value in getattr(self, facet)}

    def has_filters(self) -> bool:
        return any(getattr(self, f) for f in FACETS) or bool(self.date_from or self.date_to)

    def url(self, offset: int = 0, *, filters: bool = True) -> str:
        """This search's address at ``offset`` (without its filters if asked): shareable."""
        pairs: list[tuple[str, str]] = [("q", self.q)] if self.q else []
        if self.mode:
            pairs.append(("mode", self.mode))
        if filters:
            pairs += [(f, v) for f in FACETS for v in getattr(self, f)]
            pairs += [(name, value) for name, value in
                      (("date_from", self.date_from), ("date_to", self.date_to)) if value]
        if offset:
            pairs.append(("offset", str(offset)))
        return "/?" + urlencode(pairs) if pairs else "/"


def search_form(
    q: str = "",
    mode: str = "",
    office: Annotated[list[str] | None, Query()] = None,
    region: Annotated[list[str] | None, Query()] = None,
    doc_type: Annotated[list[str] | None, Query()] = None,
    language: Annotated[list[str] | None, Query()] = None,
    date_from: str = "",
    date_to: str = "",
    offset: str = "",
) -> SearchForm:
    """The query string as plain strings: never a validation error, which would be JSON.

    ``parse_search`` checks them and the page explains what is wrong instead.
    """
    return SearchForm(q=valid_utf8(q).strip(), mode=mode, office=office or [],
                      region=region or [], doc_type=doc_type or [], language=language or [],
                      date_from=date_from.strip(), date_to=date_to.strip(), offset=offset.strip())


@dataclass(frozen=True)
class Search:
    """A checked search: what the knowledge base is asked."""

    query: str
    mode: SearchMode
    filters: Filters
    offset: int


def _date(value: str, label: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise FormError(f"{label} “{value}” is not a date; use YYYY-MM-DD, "
                        "e.g. 2024-03-31.") from None


def _as_stored(facet: str, values: list[str], known: Iterable[str]) -> list[str] | None:
    """``values`` spelled as stored (filters ignore case), or a message naming the options."""
    by_lower = {k.lower(): k for k in known}
    unknown = [v for v in values if v.lower() not in by_lower]
    if unknown:
        options = ", ".join(sorted(by_lower.values())) or "none yet"
        raise FormError(f"There is no {FACETS[facet].lower()} “{unknown[0]}”. "
                        f"Choose among: {options}.")
    return [by_lower[v.lower()] for v in values] or None


def _offset(value: str) -> int:
    if not value:
        return 0
    offset = whole_number(value, 0, MAX_OFFSET)
    if offset is None:
        raise FormError(f"The page offset must be a whole number from 0 to {MAX_OFFSET}.")
    return offset


def _mode(value: str, default: SearchMode) -> SearchMode:
    try:
        return SearchMode(value) if value else default
    except ValueError:
        names = ", ".join(f"{m.value} ({label.lower()})" for m, label in MODES.items())
        raise FormError(f"There is no search mode “{value}”; use {names}.") from None


def parse_search(form: SearchForm, options: dict[str, Counter[str]],
                 settings: Settings) -> Search:
    """The checked search, or ``FormError`` with a message a person can act on.

    Office, region and language must be values some document has (a typo would
    otherwise just find nothing); document types are a fixed list. The query is held to
    the server's ``max_query_chars``, as the API's is.
    """
    if len(form.q) > settings.max_query_chars:
        raise FormError(f"The query is {len(form.q)} characters long; "
                        f"the limit is {settings.max_query_chars}.")
    date_from, date_to = _date(form.date_from, "From"), _date(form.date_to, "To")
    if date_from and date_to and date_from > date_to:
        raise FormError(f"The date range is empty: from {date_from} is after to {date_to}.")
    chosen = {f: _as_stored(f, getattr(form, f), DocType if f == "doc_type" else options[f])
              for f in FACETS}
    try:
        filters = Filters(**chosen, date_from=date_from, date_to=date_to)
    except ValidationError as exc:  # too many or too long values
        raise FormError(f"Too many or too long filter values: {exc.errors()[0]['msg']}.") from None
    return Search(query=form.q, mode=_mode(form.mode, settings.search_mode), filters=filters,
                  offset=_offset(form.offset))
