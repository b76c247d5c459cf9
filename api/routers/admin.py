"""Operators' routes: start a re-index, follow it, read past runs' reports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, status

from api.auth import AdminAccess, IngestAccess
from api.deps import KnowledgeBaseDep, SettingsDep
from api.reindex import configured_roots, start_reindex
from api.schemas import (
    MAX_ID,
    MAX_LISTING_OFFSET,
    ErrorResponse,
    ReindexSchedule,
    ReindexStarted,
)
from ingest.sources import SourcesError
from search.records import RunRecord
from search.writer import WriterBusyError

router = APIRouter(prefix="/admin", tags=["admin"])


@router.post("/reindex", response_model=ReindexStarted, status_code=status.HTTP_202_ACCEPTED,
             responses={403: {"model": ErrorResponse, "description":
                              "The key is limited to some offices."},
                        409: {"model": ErrorResponse, "description":
                              "A run holds the lock, or no sources are configured."}})
def reindex(kb: KnowledgeBaseDep, access: IngestAccess) -> ReindexStarted:
    """Re-read every configured source in the background; follow it at /admin/runs/{id}.

    Every office's sources are read, so it takes a key that sees every office."""
    if access.offices is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "re-indexing reads every office's "
                            "sources: it needs a key that is not limited to offices")
    try:
        run_id = start_reindex(kb, configured_roots(kb))
    except SourcesError as exc:
        # the server's configuration, not the request, is what is missing
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except WriterBusyError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return ReindexStarted(run_id=run_id, status_url=f"/admin/runs/{run_id}")


@router.get("/runs", response_model=list[RunRecord])
def runs(kb: KnowledgeBaseDep, _access: AdminAccess,
         limit: Annotated[int, Query(ge=1, le=200)] = 20,
         offset: Annotated[int, Query(ge=0, le=MAX_LISTING_OFFSET)] = 0) -> list[RunRecord]:
    """Ingest and re-index runs, newest first, each with its report once finished."""
    return kb.runs(limit, offset)


@router.get("/runs/{run_id}", response_model=RunRecord,
            responses={404: {"model": ErrorResponse}})
def run(run_id: Annotated[int, Path(ge=1, le=MAX_ID)],
        kb: KnowledgeBaseDep, _access: AdminAccess) -> RunRecord:
    """One run: progress (files done of total) while it runs, its report when it ends."""
    record = kb.run_record(run_id)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no run {run_id}")
    return record


@router.get("/schedule", response_model=ReindexSchedule)
def schedule(request: Request, settings: SettingsDep, _access: AdminAccess) -> ReindexSchedule:
    """The server's own re-index schedule (``bridge serve --reindex-cron``), if any."""
    scheduler = request.app.state.scheduler
    job = scheduler.get_job("reindex") if scheduler is not None else None
    return ReindexSchedule(cron=settings.reindex_cron,
                           next_run=job.next_run_time if job is not None else None)
