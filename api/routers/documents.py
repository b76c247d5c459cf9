"""Documents: a filtered page of them, and one with its chunks."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api.deps import get_kb
from api.schemas import DocumentDetail, DocumentPage, ErrorResponse
from search.knowledge_base import KnowledgeBase
from search.records import DocType, Filters

router = APIRouter(prefix="/documents", tags=["documents"])


def document_filters(
    office: Annotated[list[str] | None, Query()] = None,
    region: Annotated[list[str] | None, Query()] = None,
    doc_type: Annotated[list[DocType] | None, Query()] = None,
    language: Annotated[list[str] | None, Query()] = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> Filters:
    """Query parameters as the same ``Filters`` the search body takes (same limits)."""
    try:
        return Filters(office=office, region=region, doc_type=doc_type, language=language,
                       date_from=date_from, date_to=date_to)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from exc


@router.get("", response_model=DocumentPage)
def list_documents(
    kb: Annotated[KnowledgeBase, Depends(get_kb)],
    filters: Annotated[Filters, Depends(document_filters)],
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> DocumentPage:
    documents, total = kb.documents(filters, limit, offset)
    return DocumentPage(total=total, limit=limit, offset=offset, documents=documents)


@router.get("/{doc_id}", response_model=DocumentDetail,
            responses={404: {"model": ErrorResponse}})
def get_document(
    doc_id: Annotated[int, Path(ge=1, le=2**62)],
    kb: Annotated[KnowledgeBase, Depends(get_kb)],
) -> DocumentDetail:
    found = kb.document(doc_id)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no document with id {doc_id}")
    document, chunks = found
    return DocumentDetail(document=document, chunks=chunks,
                          near_duplicates=kb.near_duplicates(doc_id))
