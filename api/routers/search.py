"""Search over every office's chunks, by meaning, keywords or both, with metadata filters."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from api.auth import ReadAccess
from api.deps import get_kb
from api.schemas import SearchRequest, SearchResponse
from search.knowledge_base import KnowledgeBase

router = APIRouter(tags=["search"])


@router.post("/search", response_model=SearchResponse)
def search(request: SearchRequest, kb: Annotated[KnowledgeBase, Depends(get_kb)],
           access: ReadAccess, http: Request) -> SearchResponse:
    """Chunks (or documents) closest in meaning to the query, in any language."""
    started = time.perf_counter()
    mode = request.mode or kb.settings.search_mode
    http.state.search_mode = mode.value  # for the search-latency metric (api.observability)
    response = SearchResponse(query=request.query, mode=mode, k=request.k, offset=request.offset,
                              took_ms=0)
    filters = access.restrict(request.filters)  # None: only offices this key may not see
    if filters is not None and request.group_by_document:
        response.documents = kb.search_documents(
            request.query, filters, request.k, request.offset, mode)
    elif filters is not None:
        response.hits = kb.search(request.query, filters, request.k, request.offset, mode)
    response.took_ms = round((time.perf_counter() - started) * 1000, 2)
    return response
