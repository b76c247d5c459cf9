"""Documents: a filtered page of them, one with its chunks, uploads and deletes."""

from __future__ import annotations

import datetime as dt
import mimetypes
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import (
    APIRouter,
    Depends,
    File,
    Form,
    HTTPException,
    Path,
    Query,
    Request,
    UploadFile,
    status,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse
from pydantic import ValidationError

from api import uploads
from api.auth import Access, AdminAccess, IngestAccess, LinkAccess, ReadAccess
from api.deps import KnowledgeBaseDep
from api.schemas import (
    MAX_LISTING_OFFSET,
    DeletedDocument,
    DocumentDetail,
    DocumentPage,
    ErrorResponse,
    UploadAccepted,
)
from ingest.filetypes import UnsupportedType
from search.knowledge_base import KnowledgeBase
from search.public_ids import DOCUMENT, stored_id
from search.records import (
    MAX_FILTER_VALUES,
    Chunk,
    DocType,
    Document,
    Filters,
    FilterValue,
    Label,
)
from search.writer import WriterBusyError

router = APIRouter(prefix="/documents", tags=["documents"])

DocumentPath = Annotated[str, Path(max_length=40, description="A document's id as the API "
                                   "gives it (a token).")]
# Subtitles are sent as text a browser displays rather than as a download.
MEDIA_TYPES = {".vtt": "text/vtt", ".srt": "text/plain", ".md": "text/markdown"}


def document_filters(
    office: Annotated[list[FilterValue] | None, Query(max_length=MAX_FILTER_VALUES)] = None,
    region: Annotated[list[FilterValue] | None, Query(max_length=MAX_FILTER_VALUES)] = None,
    doc_type: Annotated[list[DocType] | None, Query(max_length=len(DocType))] = None,
    language: Annotated[list[FilterValue] | None, Query(max_length=MAX_FILTER_VALUES)] = None,
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
    kb: KnowledgeBaseDep,
    access: ReadAccess,
    filters: Annotated[Filters, Depends(document_filters)],
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_LISTING_OFFSET)] = 0,
) -> DocumentPage:
    visible = access.restrict(filters)
    documents, total = kb.documents(visible, limit, offset) if visible is not None else ([], 0)
    return DocumentPage(total=total, limit=limit, offset=offset, documents=documents)


@router.post("", response_model=UploadAccepted, status_code=status.HTTP_202_ACCEPTED,
             responses={413: {"model": ErrorResponse}, 415: {"model": ErrorResponse},
                        422: {"model": ErrorResponse}, 429: {"model": ErrorResponse}})
def upload_documents(
    request: Request,
    kb: KnowledgeBaseDep,
    access: IngestAccess,
    files: Annotated[list[UploadFile], File(min_length=1, max_length=100,
                                            description="PDF, PPTX, DOCX, Markdown, text, "
                                                        "VTT or SRT files.")],
    office: Annotated[FilterValue | None, Form()] = None,
    region: Annotated[FilterValue | None, Form()] = None,
    team: Annotated[FilterValue | None, Form()] = None,
    doc_type: Annotated[DocType | None, Form()] = None,
    language: Annotated[str | None, Form(pattern="^[a-z]{2}$")] = None,
    date: Annotated[dt.date | None, Form()] = None,
    title: Annotated[Label | None, Form(max_length=300)] = None,
) -> UploadAccepted:
    """Add documents: each file is checked (type by name and content, size) and stored under
    a generated name; a job ingests them in the background (``status_url``)."""
    if access.offices is not None:
        office = _upload_office(access, office)
    received: list[uploads.Received] = []
    try:
        for upload in files:
            received.append(uploads.receive(kb, upload.filename, upload.file))
    except UnsupportedType as exc:
        uploads.discard(received)
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, str(exc)) from exc
    except uploads.BadFileName as exc:
        uploads.discard(received)
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    metadata = {"office": office, "region": region, "team": team, "doc_type": doc_type,
                "language": language, "date": date, "title": title}
    job = request.app.state.jobs.submit(access.key_id, received, metadata)
    request.app.state.job_runner.wake()
    return UploadAccepted(job_id=job.id, status_url=f"/jobs/{job.id}", files=job.files)


def _upload_office(access: Access, office: str | None) -> str:
    """The office an office-limited key uploads to: the one it names, or its only one."""
    if office is None and len(access.offices or ()) == 1:
        return next(iter(access.offices or ()))
    if office is None or not access.sees(office):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "this key may add documents only to its own offices; name one "
                            "in the office field")
    return office


@router.delete("/{doc_id}", response_model=DeletedDocument,
               responses={404: {"model": ErrorResponse}, 409: {"model": ErrorResponse}})
def delete_document(
    doc_id: DocumentPath,
    kb: KnowledgeBaseDep,
    access: AdminAccess,
) -> DeletedDocument:
    """Remove a document from the database and every index, in one publish."""
    document, _ = visible_document(kb, access, doc_id)
    try:
        with kb.writer() as writer:
            for path in document.paths:
                writer.delete(path)
    except WriterBusyError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    uploads.remove_originals(kb, document.paths)
    return DeletedDocument(id=document.id, paths=document.paths)


@router.get("/{doc_id}", response_model=DocumentDetail,
            responses={404: {"model": ErrorResponse}})
def get_document(
    doc_id: DocumentPath,
    kb: KnowledgeBaseDep,
    access: ReadAccess,
) -> DocumentDetail:
    document, chunks = visible_document(kb, access, doc_id)
    return DocumentDetail(document=document, chunks=chunks, near_duplicates=[
        d for d in kb.near_duplicates(document.id) if access.sees(d.document.office)])


def visible_document(kb: KnowledgeBase, access: Access, doc_id: str) -> tuple[Document,
                                                                             list[Chunk]]:
    """The document and its chunks; the same 404 when the id names nothing, when the
    document does not exist, or when the key may not see it."""
    number = stored_id(DOCUMENT, doc_id)
    found = kb.document(number) if number is not None else None
    if found is None or not access.sees(found[0].office):
        raise HTTPException(status_code=404, detail=f"no document with id {doc_id}")
    return found


@router.get("/{doc_id}/file", responses={200: {"content": {"application/octet-stream": {}}},
                                         404: {"model": ErrorResponse}})
def document_file(doc_id: DocumentPath, kb: KnowledgeBaseDep, access: LinkAccess
                  ) -> FileResponse:
    """The document's original file, as ingested (the first of its paths still on disk).

    Only paths the database holds are ever read; a browser opens a PDF link ending in
    ``#page=N`` at that page.
    """
    document, _ = visible_document(kb, access, doc_id)
    for candidate in (document.source_path, *document.paths):
        path = FilePath(candidate)
        if path.is_file():
            return FileResponse(path, media_type=media_type(path), filename=path.name,
                                content_disposition_type="inline")
    raise HTTPException(status_code=404,
                        detail=f"the file of document {doc_id} is no longer on disk")


def media_type(path: FilePath) -> str:
    """The file's media type; text is declared UTF-8, as the ingester reads it."""
    kind = MEDIA_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
    kind = kind or "application/octet-stream"
    return f"{kind}; charset=utf-8" if kind.startswith("text/") else kind
