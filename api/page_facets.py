"""The counts beside the search page's filters: documents per office, region, type and
language, and each option's label."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from api.page_forms import FACETS, SearchForm
from search.knowledge_base import KnowledgeBase
from search.records import DocType, DocumentHits, Filters

DOC_TYPES = {DocType.interview: "Interview", DocType.pitch_deck: "Pitch deck",
             DocType.report: "Report", DocType.other: "Note"}
LANGUAGES = {"en": "English", "fr": "French", "de": "German", "es": "Spanish",
             "it": "Italian", "pt": "Portuguese", "nl": "Dutch"}


def document_counts(kb: KnowledgeBase, filters: Filters | None = None) -> dict[str, Counter[str]]:
    """Documents per office, region, type and language (those passing ``filters``): the
    options the filters offer, and their counts when there is no query."""
    return kb.facet_counts(filters, list(FACETS))


def result_counts(results: list[DocumentHits]) -> dict[str, Counter[str]]:
    """Result documents per office, region, type and language."""
    return {f: Counter(str(getattr(r.document, f)) for r in results
                       if getattr(r.document, f) is not None) for f in FACETS}


@dataclass(frozen=True)
class FacetOption:
    value: str
    label: str
    count: int | None  # None: no search ran (the form had an error)
    checked: bool


def option_label(facet: str, value: str) -> str:
    """What a researcher reads for a stored value: "Pitch deck", "French (fr)"."""
    if facet == "doc_type":
        return DOC_TYPES.get(DocType(value), value)
    if facet == "language":
        return f"{LANGUAGES[value]} ({value})" if value in LANGUAGES else value
    return value


def facet_options(form: SearchForm, options: dict[str, Counter[str]],
                  counts: dict[str, Counter[str]] | None) -> dict[str, list[FacetOption]]:
    """Each filter's options, with its count for this search (none after an error)."""
    return {f: [FacetOption(value=v, label=option_label(f, v),
                            count=counts[f][v] if counts is not None else None,
                            checked=v.lower() in form.selected(f))
                for v in sorted(options[f], key=lambda v, f=f: option_label(f, v).lower())]
            for f in FACETS}
