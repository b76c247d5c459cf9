"""Liveness: is the service up, and what does it serve."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import get_kb
from api.schemas import Health
from search.knowledge_base import KnowledgeBase

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health(kb: Annotated[KnowledgeBase, Depends(get_kb)]) -> Health:
    status = kb.status()
    return Health(status="ok", generation=status["generation"], documents=status["documents"],
                  chunks=status["chunks"], model=status["model"])
