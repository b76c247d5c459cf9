"""Liveness and readiness: is the service up, what does it serve, can it answer searches."""

from __future__ import annotations

from http import HTTPStatus
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.deps import KnowledgeBaseDep
from api.schemas import Health
from search.knowledge_base import KnowledgeBase

router = APIRouter(tags=["health"])

NOT_READY = ("no index generation is loaded yet: ingest documents first "
             "(`bridge ingest FOLDER` or POST /admin/reindex)")


class Ready(BaseModel):
    status: Literal["ready"]
    generation: int


class NotReady(BaseModel):
    status: Literal["not_ready"]
    detail: str


@router.get("/health", response_model=Health)
def health(kb: KnowledgeBaseDep) -> Health:
    return Health(status="ok", generation=kb.generation().number, model=kb.encoder.model_id)


@router.get("/ready", response_model=Ready,
            responses={HTTPStatus.SERVICE_UNAVAILABLE.value: {"model": NotReady}})
def ready(request: Request) -> Ready | JSONResponse:
    """200 once a published index generation is loaded, else 503 (a load balancer waits).

    /health answers as soon as the process is up, even over an empty data directory;
    this answers 200 only when searches can find something. Loading the generation here
    also means the first search after a publish does not pay for it.
    """
    kb: KnowledgeBase | None = getattr(request.app.state, "kb", None)
    generation = kb.generation().number if kb is not None else 0
    if generation < 1:
        return JSONResponse(NotReady(status="not_ready", detail=NOT_READY).model_dump(),
                            status_code=HTTPStatus.SERVICE_UNAVAILABLE)
    return Ready(status="ready", generation=generation)
