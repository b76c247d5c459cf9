"""The FastAPI application: routers, shared state, and error shapes."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from api.auth import require
from api.jobs import JobRunner, JobStore
from api.keys import KeyStore, Scope
from api.limits import BodyLimit
from api.observability import install_observability
from api.query_gate import QueryGate
from api.reindex import add_reindex_job, configured_roots, schedule_trigger
from api.request_limits import document_limits
from api.routers import (
    admin,
    bridges,
    documents,
    health,
    jobs,
    pages,
    search,
    sign_in,
    watches,
)
from api.security import SecurityHeaders, ShownRecords
from api.sessions import SessionStore
from api.webhooks import WebhookSender
from search.knowledge_base import KnowledgeBase
from search.opening import open_knowledge_base
from search.records import valid_utf8
from search.settings import Settings, get_settings

STATIC = Path(__file__).resolve().parent / "static"


def _reindex_scheduler(kb: KnowledgeBase) -> BackgroundScheduler:
    """``serve --reindex-cron``: re-index the configured sources inside the server."""
    scheduler = BackgroundScheduler(timezone=dt.UTC)
    add_reindex_job(scheduler, kb, configured_roots(kb),
                    schedule_trigger(None, kb.settings.reindex_cron))
    scheduler.start()
    return scheduler


# An error body names at most this many errors: a body of thousands of unknown keys must
# not make an answer of megabytes.
MAX_ERRORS_SHOWN = 20
MAX_ERROR_CHARS = 300


def _validation_message(exc: RequestValidationError) -> str:
    errors = exc.errors()
    parts = []
    for error in errors[:MAX_ERRORS_SHOWN]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")[:MAX_ERROR_CHARS]
        parts.append(f"{where}: {error.get('msg')}" if where else str(error.get("msg")))
    if len(errors) > MAX_ERRORS_SHOWN:
        parts.append(f"and {len(errors) - MAX_ERRORS_SHOWN} more errors")
    return valid_utf8("; ".join(parts))


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.kb = open_knowledge_base(settings)
        threading.Thread(target=app.state.kb.prepare, name="warm-up",
                         daemon=True).start()  # searches wait for it only if it is not done
        app.state.query_gate = QueryGate(settings)
        app.state.keys = KeyStore(app.state.kb.database)
        app.state.sessions = SessionStore(app.state.kb.database,
                                          dt.timedelta(hours=settings.session_hours))
        app.state.scheduler = _reindex_scheduler(app.state.kb) if settings.reindex_cron else None
        app.state.jobs = JobStore(app.state.kb.database)
        app.state.job_runner = JobRunner(app.state.kb, app.state.jobs)
        app.state.job_runner.start()
        app.state.webhooks = WebhookSender(app.state.kb, settings)
        app.state.webhooks.start()  # alerts left by a CLI ingest or a crash go out too
        yield
        app.state.webhooks.stop()
        app.state.job_runner.stop()
        if app.state.scheduler is not None:
            app.state.scheduler.shutdown(wait=False)

    app = FastAPIOffline(  # /docs and /redoc from assets installed with the package
        title="Knowledge Bridge",
        version="0.1.0",
        description="Search every office's interviews, decks and reports by meaning, "
        "across languages.",
        lifespan=lifespan,
    )
    app.add_middleware(BodyLimit, settings=settings)  # inside the observability middleware
    install_observability(app, settings, metrics_dependencies=[Depends(require(Scope.admin))])
    app.add_middleware(ShownRecords)
    app.add_middleware(SecurityHeaders)  # outermost: every answer carries them, 413s too
    app.openapi = _openapi_as_served(app, settings)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={
            "detail": _validation_message(exc), "errors": jsonable_errors(exc)})

    for router in (health.router, search.router, documents.router, jobs.router,
                   bridges.router, watches.router, admin.router, pages.router,
                   sign_in.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")  # after the routes
    return app


def _openapi_as_served(app: FastAPI, settings: Settings) -> Callable[[], dict[str, Any]]:
    """The OpenAPI schema, with 422 bodies as this app sends them (a ``detail`` message and
    the ``errors`` list: FastAPI documents ``detail`` as the list) and the request limits
    this server was started with."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        document_limits(schemas, settings)
        schemas["HTTPValidationError"] = {
            "title": "HTTPValidationError", "type": "object", "required": ["detail", "errors"],
            "properties": {
                "detail": {"type": "string", "title": "Detail"},
                "errors": {"type": "array", "title": "Errors",
                           "items": {"$ref": "#/components/schemas/ValidationError"}}}}
        return schema

    return openapi


def jsonable_errors(exc: RequestValidationError) -> list[dict]:
    """Where and what, without echoing the input (it may not even be encodable)."""
    return [{"loc": [str(p)[:MAX_ERROR_CHARS] for p in e.get("loc", ())],
             "msg": valid_utf8(str(e.get("msg")))[:MAX_ERROR_CHARS], "type": e.get("type")}
            for e in exc.errors()[:MAX_ERRORS_SHOWN]]
