"""Search over every office's chunks, by meaning, keywords or both, with metadata filters."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import get_kb
from api.schemas import SearchRequest, SearchResponse
from search.knowledge_base import KnowledgeBase

router = APIRouter(tags=["search"])


@router.post("/search", response_model=SearchResponse)
def search(request: SearchRequest, kb: Annotated[KnowledgeBase, Depends(get_kb)]) -> SearchResponse:
    """Chunks (or documents) closest in meaning to the query, in any language."""
    started = time.perf_counter()
    mode = request.mode or kb.settings.search_mode
    response = SearchResponse(query=request.query, mode=mode, k=request.k, offset=request.offset,
                              took_ms=0)
    if request.group_by_document:
        response.documents = kb.search_documents(
            request.query, request.filters, request.k, request.offset, mode)
    else:
        response.hits = kb.search(request.query, request.filters, request.k, request.offset, mode)
    response.took_ms = round((time.perf_counter() - started) * 1000, 2)
    return response
