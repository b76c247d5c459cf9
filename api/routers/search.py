"""Search over every office's chunks, by meaning, keywords or both, with metadata filters."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request

from api.auth import ReadAccess
from api.deps import KnowledgeBaseDep, SettingsDep
from api.query_gate import QuerySlot
from api.request_limits import search_k
from api.schemas import ErrorResponse, SearchRequest, SearchResponse

router = APIRouter(tags=["search"])


@router.post("/search", response_model=SearchResponse,
             responses={429: {"model": ErrorResponse}})
def search(request: SearchRequest, kb: KnowledgeBaseDep, settings: SettingsDep,
           access: ReadAccess, http: Request, _slot: QuerySlot) -> SearchResponse:
    """Chunks (or documents) closest in meaning to the query, in any language."""
    started = time.perf_counter()
    k = search_k(request, settings)
    mode = request.mode or settings.search_mode
    http.state.search_mode = mode.value  # for the search-latency metric (api.observability)
    response = SearchResponse(query=request.query, mode=mode, k=k, offset=request.offset,
                              took_ms=0)
    filters = access.restrict(request.filters)  # None: only offices this key may not see
    if filters is not None and request.group_by_document:
        response.documents = kb.search_documents(request.query, filters, k, request.offset, mode)
    elif filters is not None:
        response.hits = kb.search(request.query, filters, k, request.offset, mode)
    response.took_ms = round((time.perf_counter() - started) * 1000, 2)
    return response
