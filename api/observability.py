"""Observability: Prometheus metrics, request ids, one access line per request, JSON logs.

``install_observability(app, settings)`` is the one call ``create_app`` makes. It gives the app:

- ``GET /metrics`` (Prometheus text format) through prometheus-fastapi-instrumentator:
  ``http_requests_total`` and ``http_request_duration_seconds`` per route template
  (``/documents/{doc_id}``, never a raw path; unmatched paths are ``none``) with status
  codes grouped (``2xx``); ``bridge_search_duration_seconds`` per search mode; the index
  size and the last ingest or re-index run, read from the knowledge base at scrape time.
  Every metric lives in a registry of the app's own, so two apps in one process never clash.
- a request id per request (a sane incoming ``X-Request-ID``, else a new one), sent back in
  ``X-Request-ID`` and attached to every log record emitted while the request is handled;
- one access log line per request (logger ``api.access``), and with ``log_json`` every log
  line as one JSON object.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

from fastapi import FastAPI
from fastapi.params import Depends
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_fastapi_instrumentator import Instrumentator
from prometheus_fastapi_instrumentator.metrics import Info, default
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from search.knowledge_base import KnowledgeBase
from search.records import RunRecord, SearchMode
from search.settings import Settings

REQUEST_ID_HEADER = "X-Request-ID"
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

access_log = logging.getLogger("api.access")
# the format `bridge` itself configures (api/cli.py); the server keeps it unless log_json
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

SEARCH_ROUTE = "/search"
# per-route histograms: the library's default (0.1, 0.5, 1) cannot tell 5 ms from 90 ms
ROUTE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
SEARCH_BUCKETS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10)
RUN_STATUSES = ("running", "finished", "failed", "interrupted")


def install_observability(app: FastAPI, settings: Settings,
                          metrics_dependencies: Sequence[Depends] = ()) -> None:
    """Metrics, request ids and logging for ``app``; call once, right after ``FastAPI(...)``.

    ``metrics_dependencies`` guard ``GET /metrics`` like any route's (e.g. an admin scope).
    The request-id middleware is added last so that it is the outermost of the two: the
    metrics middleware and everything below it run with the request id already set.
    """
    registry = CollectorRegistry()
    registry.register(KnowledgeBaseCollector(app))
    instrumentator = Instrumentator(registry=registry)
    instrumentator.add(default(registry=registry, latency_lowr_buckets=ROUTE_BUCKETS),
                       search_latency(registry))
    instrumentator.instrument(app).expose(app, include_in_schema=False,
                                          dependencies=list(metrics_dependencies))
    app.add_middleware(RequestContextMiddleware, json_logs=settings.log_json)


# --- metrics ---------------------------------------------------------------------------
def search_latency(registry: CollectorRegistry) -> Callable[[Info], None]:
    """An instrumentation observing each successful ``POST /search``'s duration by mode.

    The mode is the one the search router resolved (the request may leave it to the
    server's default) and left on the request's state.
    """
    histogram = Histogram("bridge_search_duration_seconds",
                          "Duration of successful POST /search requests, by search mode.",
                          ["mode"], buckets=SEARCH_BUCKETS, registry=registry)
    for mode in SearchMode:  # every mode is listed from the start, at 0
        histogram.labels(mode.value)

    def observe(info: Info) -> None:
        mode = getattr(info.request.state, "search_mode", None)
        if info.modified_handler == SEARCH_ROUTE and info.modified_status == "2xx" and mode:
            histogram.labels(mode).observe(info.modified_duration)

    return observe


class KnowledgeBaseCollector:
    """Index size and the last run, read from ``app.state.kb`` at each scrape.

    Computed on demand rather than kept up to date: another process (``bridge ingest``)
    publishes generations and records runs in the same data directory.
    """

    def __init__(self, app: FastAPI) -> None:
        self._app = app

    def collect(self) -> Iterator[Metric]:
        kb: KnowledgeBase | None = getattr(self._app.state, "kb", None)
        if kb is None:  # before the lifespan opened it
            return
        yield from index_metrics(kb.status())
        gate = getattr(self._app.state, "query_gate", None)
        if gate is not None:
            yield CounterMetricFamily("bridge_queries_shed", "Queries refused with 429 because "
                                      "the server was saturated (api.query_gate).",
                                      value=gate.shed)
        alerts = CounterMetricFamily("bridge_watch_alerts", "Watch alerts matched at "
                                     "publish, by webhook status (none: feed only).",
                                     labels=["status"])
        counts = kb.watcher.alert_counts()
        for status in ("none", "pending", "delivered", "failed"):
            alerts.add_metric([status], counts.get(status, 0))
        yield alerts
        last = kb.runs(limit=1)
        if last:
            yield from run_metrics(last[0])


def gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def index_metrics(status: dict[str, Any]) -> Iterator[Metric]:
    """Gauges of ``KnowledgeBase.status()``: what the published generation holds."""
    yield gauge("bridge_index_documents", "Documents in the database.", status["documents"])
    yield gauge("bridge_index_chunks", "Chunks in the database.", status["chunks"])
    yield gauge("bridge_index_vectors", "Vectors in the loaded index generation.",
                status["vectors"])
    yield gauge("bridge_index_generation", "Published index generation (0: none yet).",
                status["generation"])


def run_metrics(run: RunRecord) -> Iterator[Metric]:
    """Gauges of the newest ingest or re-index run; its status as one 1 among 0s."""
    yield gauge("bridge_last_run_id", "Id of the newest ingest or re-index run.", run.id)
    yield gauge("bridge_last_run_start_time_seconds", "Unix time the newest run started.",
                run.started_at.timestamp())
    if run.finished_at is not None:
        yield gauge("bridge_last_run_end_time_seconds", "Unix time the newest run ended.",
                    run.finished_at.timestamp())
    status = GaugeMetricFamily("bridge_last_run_status",
                               "Status of the newest run: 1 for its status, 0 for the others.",
                               labels=["status"])
    for name in sorted({*RUN_STATUSES, run.status}):
        status.add_metric([name], 1 if name == run.status else 0)
    yield status
    if run.report is not None:
        yield gauge("bridge_last_run_files_failed", "Files the newest run could not read.",
                    len(run.report.failed))
        yield gauge("bridge_last_run_chunks_indexed", "New chunks the newest run stored.",
                    run.report.chunks_indexed)


# --- request ids, access log, log format -----------------------------------------------
def incoming_request_id(headers: Headers) -> str | None:
    """The client's ``X-Request-ID`` when it is a safe token to log and send back."""
    value = headers.get(REQUEST_ID_HEADER)
    return value if value is not None and SANE_REQUEST_ID.fullmatch(value) else None


class RequestContextMiddleware:
    """Pure ASGI: the request id (contextvar and response header) and the access line.

    Not ``BaseHTTPMiddleware``: that runs the app in another task, which breaks streaming
    responses and hides contextvars set below it. On the lifespan scope it configures
    logging: that is when the server starts this app, after uvicorn has set up its own
    loggers (``uvicorn.run`` does so after ``create_app`` returns).
    """

    def __init__(self, app: ASGIApp, json_logs: bool) -> None:
        self.app = app
        self.json_logs = json_logs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            configure_logging(self.json_logs)
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = incoming_request_id(Headers(scope=scope)) or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log_access(scope, status, time.perf_counter() - started)
            request_id_var.reset(token)


def log_access(scope: Scope, status: int, seconds: float) -> None:
    """One line per request: method, route template (else the raw path), status, time."""
    route = (getattr(scope.get("route"), "path", None)  # raw_path: percent-encoded, one line
             or scope.get("raw_path", scope["path"].encode()).decode("latin-1"))
    duration_ms = round(seconds * 1000, 2)
    access_log.info("%s %s %s %.2f ms request_id=%s", scope["method"], route, status,
                    duration_ms, request_id_var.get(),
                    extra={"method": scope["method"], "route": route, "status": status,
                           "duration_ms": duration_ms})


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (None outside a request) to every record a handler emits."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


def json_formatter() -> JsonFormatter:
    """time, level, logger, message, request_id, and whatever ``extra`` a record has."""
    return JsonFormatter("{levelname}{name}{message}{request_id}", style="{", timestamp="time",
                         rename_fields={"levelname": "level", "name": "logger"},
                         reserved_attrs=[*RESERVED_ATTRS, "color_message"])  # uvicorn's copy


def configure_logging(json_logs: bool) -> None:
    """The server's console logging; idempotent (a second call leaves the same state).

    The root logger's console handlers (``bridge``'s ``basicConfig``, or an earlier call's)
    give way to one that adds request ids, in JSON or the plain format. Uvicorn's access
    line is replaced by ``api.access``'s; with JSON its other lines go through the root
    handler too, so that every line is JSON.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter() if json_logs else logging.Formatter(PLAIN_FORMAT))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        if isinstance(old, logging.StreamHandler) and old.stream in (sys.stderr, sys.stdout):
            root.removeHandler(old)
    root.addHandler(handler)
    access_log.setLevel(logging.INFO)
    logging.getLogger("uvicorn.access").disabled = True
    if json_logs:
        uvicorn = logging.getLogger("uvicorn")
        uvicorn.handlers.clear()
        uvicorn.propagate = True
