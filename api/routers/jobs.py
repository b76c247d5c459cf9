"""Upload jobs: what became of the files of one upload (``api.jobs``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, status

from api.auth import Access, authenticate
from api.keys import Scope
from api.schemas import ErrorResponse, JobRecord

router = APIRouter(prefix="/jobs", tags=["documents"])


@router.get("/{job_id}", response_model=JobRecord, responses={404: {"model": ErrorResponse}})
def job(job_id: Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")],
        request: Request, access: Annotated[Access, Depends(authenticate)]) -> JobRecord:
    """An upload's state and each file's outcome (its document id once ingested). A key sees
    its own uploads' jobs; an admin key every job; any other is the same 404 as no job."""
    jobs = request.app.state.jobs
    found = jobs.get(job_id)
    mine = found is not None and access.key_id is not None and jobs.owner(job_id) == access.key_id
    if found is None or not (mine or Scope.admin in access.scopes):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no upload job {job_id}")
    return found
