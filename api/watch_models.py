"""Request and response models of watches and their alerts."""

from __future__ import annotations

from pydantic import AnyHttpUrl, BaseModel, Field

from api.schemas import FindingSource
from search.path_names import AS_STORED
from search.records import Chunk, Document, DocumentSummary, Passage
from search.watches import Alert, Watch
from search.watching import WatchRequest


class WatchCreate(FindingSource):
    """What to watch (exactly one of text, document_id, chunk_id), where, and how to hear:
    every watch has its Atom feed; one with a ``webhook_url`` is POSTed its alerts too.
    ``target_offices`` default to every other office the key may see."""

    threshold: float | None = Field(
        None, ge=0.5, le=1.0, description="Cosine a new passage needs (default: the server's "
        "watch_threshold).")
    webhook_url: AnyHttpUrl | None = Field(
        None, description="Where alerts are POSTed, signed (besides the feed).")

    def to_request(self, owner: str, visible: frozenset[str] | None) -> WatchRequest:
        document, chunk = self.stored_ids()
        return WatchRequest(owner=owner, text=self.text, office=self.office, chunk_id=chunk,
                            document_id=document, target_offices=tuple(self.target_offices),
                            threshold=self.threshold,
                            delivery="both" if self.webhook_url else "feed",
                            webhook_url=str(self.webhook_url) if self.webhook_url else None,
                            visible_offices=visible)


class WatchOut(BaseModel):
    """A watch as its owner sees it; its feed URL carries the feed's token."""

    id: int
    kind: str
    office: str | None
    target_offices: list[str] | None = Field(description="None: every other office.")
    threshold: float
    delivery: str
    webhook_url: str | None
    created_at: str
    feed_url: str

    @classmethod
    def of(cls, watch: Watch) -> WatchOut:
        return cls(id=watch.id, kind=watch.kind, office=watch.home_office,
                   target_offices=list(watch.target_offices)
                   if watch.target_offices is not None else None,
                   threshold=watch.threshold, delivery=watch.delivery,
                   webhook_url=watch.webhook_url, created_at=watch.created_at,
                   feed_url=f"/watches/{watch.id}/feed?token={watch.feed_token}")


class WatchCreated(WatchOut):
    """A new watch, with the secret its webhooks are signed with (shown this once)."""

    secret: str

    @classmethod
    def of(cls, watch: Watch) -> WatchCreated:
        return cls(**WatchOut.of(watch).model_dump(), secret=watch.secret)


class AlertOut(BaseModel):
    """A passage another office published that matched a watch."""

    id: int
    watch_id: int
    similarity: float
    matched_at: str
    watched: Passage
    found: Passage
    document: DocumentSummary
    webhook_status: str

    @classmethod
    def of(cls, alert: Alert, chunk: Chunk, document: Document) -> AlertOut:
        text, language = alert.watched
        return cls(id=alert.id, watch_id=alert.watch_id, similarity=alert.similarity,
                   matched_at=alert.matched_at,
                   watched=Passage(chunk_id=None, text=text, language=language),
                   found=Passage(chunk_id=chunk.id, text=chunk.text, language=chunk.language,
                                 provenance=chunk.provenance),
                   document=DocumentSummary.model_validate(
                       document.model_dump(context=AS_STORED)),
                   webhook_status=alert.webhook_status)
