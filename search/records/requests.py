"""What a caller asks for: how to search, which documents, in text fit to store or echo."""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from search.records.stored import DocType


def valid_utf8(text: str) -> str:
    """``text`` with lone surrogates (legal in JSON and in argv, not in UTF-8) replaced."""
    return text.encode("utf-8", "replace").decode("utf-8")


class SearchMode(StrEnum):
    """How chunks are found: by meaning, by keywords (BM25), or both fused."""

    dense = "dense"
    lexical = "lexical"
    hybrid = "hybrid"


def _as_list(value: str | list[str] | None) -> list[str] | None:
    if value is None or isinstance(value, list):
        return value
    return [value]


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def printable(text: str) -> str:
    """``text`` when it holds no control character (NUL, escapes, line breaks) nor a lone
    surrogate (not text in UTF-8); a name, a title or a filter value with one is refused
    rather than stored or echoed."""
    if _UNPRINTABLE.search(text):
        raise ValueError("must not contain control characters (NUL, line breaks, escapes) "
                         "or lone surrogates")
    return text


Label = Annotated[str, AfterValidator(printable), Field(json_schema_extra={
    "pattern": r"^[^\x00-\x1f\x7f-\x9f]*$"})]
"""A name, title or metadata value: printable text, one line (the pattern tells API
clients and schema-driven tools what :func:`printable` enforces; lone surrogates, which no
well-formed text holds, are refused too)."""
FilterValue = Annotated[Label, StringConstraints(max_length=100)]
MAX_FILTER_VALUES = 50


class Filters(BaseModel):
    """Metadata filters; a list means "any of these". Matching ignores case."""

    model_config = ConfigDict(extra="forbid")

    office: list[FilterValue] | None = Field(None, max_length=MAX_FILTER_VALUES,
                                             examples=[["Boston"]])
    region: list[FilterValue] | None = Field(None, max_length=MAX_FILTER_VALUES,
                                             examples=[["EU"]])
    doc_type: list[DocType] | None = Field(None, max_length=len(DocType))
    language: list[FilterValue] | None = Field(None, max_length=MAX_FILTER_VALUES,
                                               examples=[["fr"]])
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    _lists = field_validator("office", "region", "doc_type", "language", mode="before")(
        classmethod(lambda cls, v: _as_list(v))
    )

    def is_empty(self) -> bool:
        return not any(v not in (None, []) for v in self.model_dump().values())
