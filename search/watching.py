"""Making, reading and removing watches: what the API and the command line ask for.

A watch starts from a typed text (with its office), a stored passage or a stored document;
its passages are embedded as bridges embed their source (a text as a query, stored passages
by their stored vectors), so a publish matches them against its new chunks as bridges would
(``search.watch_matching``).
"""

from __future__ import annotations

from dataclasses import dataclass

from search.chunks import chunks_by_id, document_chunks, is_substantial
from search.database import Database
from search.documents import document_by_id
from search.embedding import Encoder
from search.embedding_cache import chunk_vectors
from search.queries import QueryReader
from search.records import Chunk, Document, SearchMode
from search.settings import Settings
from search.watches import (
    Alert,
    Delivery,
    NewWatch,
    Watch,
    WatchedPassage,
    WebhookStatus,
    alert_counts,
    alerts_of,
    delete_watch,
    due_webhooks,
    insert_watch,
    record_attempt,
    watch_by_id,
    watch_rows,
)


@dataclass(frozen=True)
class WatchRequest:
    """What to watch (exactly one of text, chunk_id, document_id) and for whom.

    ``visible_offices`` (casefolded; None: every office) bounds the watched source and every
    later match; ``target_offices`` narrows the matches further (empty: every other office).
    """

    owner: str
    text: str | None = None
    office: str | None = None
    chunk_id: int | None = None
    document_id: int | None = None
    target_offices: tuple[str, ...] = ()
    threshold: float | None = None
    delivery: Delivery = "feed"
    webhook_url: str | None = None
    visible_offices: frozenset[str] | None = None


class Watcher:
    """Watches of one knowledge base."""

    def __init__(self, settings: Settings, database: Database, reader: QueryReader,
                 encoder: Encoder) -> None:
        self.settings = settings
        self.database = database
        self.reader = reader
        self.encoder = encoder

    def add(self, request: WatchRequest) -> Watch:
        """Store a new watch; raises ``LookupError`` for a passage or document the owner
        cannot see (or that is not there)."""
        kind, home, subject, passages = self._source(request)
        visible = request.visible_offices
        targets = {o.casefold() for o in request.target_offices}
        if visible is not None:
            targets = (targets or set(visible)) & set(visible)
        targets.discard((home or "").casefold())
        new = NewWatch(request.owner, kind, subject, home,
                       tuple(sorted(targets)) if targets or visible is not None else None,
                       request.threshold or self.settings.watch_threshold, request.delivery,
                       request.webhook_url, passages)
        with self.database.connect() as db:
            watch = watch_by_id(db, insert_watch(db, new))
        assert watch is not None
        return watch

    def _source(self, request: WatchRequest
                ) -> tuple[str, str | None, dict, list[WatchedPassage]]:
        if request.text is not None:
            read = self.reader.read(request.text, SearchMode.dense)
            assert read.vector is not None
            return ("text", request.office, {"text": read.text},
                    [WatchedPassage(read.text, read.language, read.vector[0])])
        with self.database.connect() as db:
            if request.document_id is not None:
                document = document_by_id(db, request.document_id)
                chunks = document_chunks(db, request.document_id) if document else []
                kind, subject = "document", {"document_id": request.document_id}
            else:
                found = chunks_by_id(db, [request.chunk_id or 0]).get(request.chunk_id or 0)
                chunks, document = ([found[0]], found[1]) if found else ([], None)
                kind, subject = "chunk", {"chunk_id": request.chunk_id}
            if document is None or not self._visible(document, request.visible_offices):
                raise LookupError(f"no {kind} with id {request.document_id or request.chunk_id}")
            min_tokens = self.settings.bridge_min_tokens
            chunks = [c for c in chunks if is_substantial(c, document, min_tokens)] or chunks
            stored = chunk_vectors(db, [c.id for c in chunks], self.encoder.model_id,
                                   self.encoder.dimension)
        by_id = {c.id: c for c in chunks}
        return (kind, document.office, subject,
                [WatchedPassage(by_id[int(i)].text, language, vector)
                 for i, language, vector in zip(stored.ids, stored.languages, stored.vectors,
                                                strict=True)])

    @staticmethod
    def _visible(document: Document, visible: frozenset[str] | None) -> bool:
        return visible is None or (document.office or "").casefold() in visible

    def watches(self, owner: str | None = None) -> list[Watch]:
        with self.database.connect() as db:
            return watch_rows(db, owner)

    def watch(self, watch_id: int) -> Watch | None:
        with self.database.connect() as db:
            return watch_by_id(db, watch_id)

    def remove(self, watch_id: int) -> bool:
        with self.database.connect() as db:
            return delete_watch(db, watch_id)

    def due_webhooks(self, now: str) -> list[tuple[Alert, Chunk, Document]]:
        """Alerts whose webhook is due, oldest first, with their passage and document."""
        with self.database.connect() as db:
            due = due_webhooks(db, now)
            found = chunks_by_id(db, [a.chunk_id for a in due])
        return [(a, *found[a.chunk_id]) for a in due if a.chunk_id in found]

    def record_attempt(self, alert_id: int, status: WebhookStatus, error: str | None = None,
                       next_attempt_at: str | None = None) -> None:
        with self.database.connect() as db:
            record_attempt(db, alert_id, status, error, next_attempt_at)

    def alert_counts(self) -> dict[str, int]:
        with self.database.connect() as db:
            return alert_counts(db)

    def alerts(self, watch_id: int, limit: int = 100) -> list[tuple[Alert, Chunk, Document]]:
        """A watch's alerts, newest first, with the passage and document each names (an
        alert whose passage was deleted since is left out)."""
        with self.database.connect() as db:
            alerts = alerts_of(db, watch_id, limit)
            found = chunks_by_id(db, [a.chunk_id for a in alerts])
        return [(a, *found[a.chunk_id]) for a in alerts if a.chunk_id in found]
