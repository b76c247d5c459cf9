"""Watches: tell an office when another office publishes something close to its finding.

A key sees and manages its own watches only; what a watch may match is bounded by the offices
the key could see when it made it. The Atom feed of a watch needs no key but the watch's own
feed token, so a feed reader can subscribe.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response

from api.auth import Access, ReadAccess
from api.deps import KnowledgeBaseDep, SettingsDep
from api.request_limits import check_finding_length
from api.schemas import ErrorResponse
from api.watch_feed import atom_feed
from api.watch_models import AlertOut, WatchCreate, WatchCreated, WatchOut
from api.webhooks import private_target
from search.knowledge_base import KnowledgeBase
from search.watches import Watch

router = APIRouter(tags=["watches"])
NOT_FOUND = {404: {"model": ErrorResponse}}


def owner_of(access: Access) -> str:
    """Whose watches these are: the key's (a loopback reader without a key shares one)."""
    return f"key:{access.key_id}" if access.key_id is not None else f"name:{access.name}"


def _own(kb: KnowledgeBase, watch_id: int, access: Access) -> Watch:
    watch = kb.watcher.watch(watch_id)
    if watch is None or watch.owner != owner_of(access):
        raise HTTPException(status_code=404, detail=f"no watch with id {watch_id}")
    return watch


def alerts_out(kb: KnowledgeBase, watch: Watch, limit: int = 100) -> list[AlertOut]:
    return [AlertOut.of(*found) for found in kb.watcher.alerts(watch.id, limit)]


@router.post("/watches", status_code=201, response_model=WatchCreated,
             responses={403: {"model": ErrorResponse}, **NOT_FOUND})
def create_watch(body: WatchCreate, kb: KnowledgeBaseDep, settings: SettingsDep,
                 access: ReadAccess) -> WatchCreated:
    """Watch a finding: each later publish alerts it of close passages of other offices. A
    webhook to this server's machine or private network is refused (403) unless
    ``webhook_allow_private``."""
    check_finding_length(body.text, settings)
    url = str(body.webhook_url) if body.webhook_url else None
    if url and not settings.webhook_allow_private and (refused := private_target(url)):
        raise HTTPException(status_code=403, detail=f"webhook_url: {refused}")
    try:
        watch = kb.watcher.add(body.to_request(owner_of(access), access.offices))
    except LookupError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    return WatchCreated.of(watch)


@router.get("/watches", response_model=list[WatchOut])
def list_watches(kb: KnowledgeBaseDep, access: ReadAccess) -> list[WatchOut]:
    """This key's watches, oldest first."""
    return [WatchOut.of(w) for w in kb.watcher.watches(owner_of(access))]


@router.get("/watches/{watch_id}", response_model=WatchOut, responses=NOT_FOUND)
def get_watch(watch_id: int, kb: KnowledgeBaseDep, access: ReadAccess) -> WatchOut:
    return WatchOut.of(_own(kb, watch_id, access))


@router.delete("/watches/{watch_id}", status_code=204, responses=NOT_FOUND)
def delete_watch(watch_id: int, kb: KnowledgeBaseDep, access: ReadAccess) -> Response:
    kb.watcher.remove(_own(kb, watch_id, access).id)
    return Response(status_code=204)


@router.get("/watches/{watch_id}/alerts", response_model=list[AlertOut], responses=NOT_FOUND)
def watch_alerts(watch_id: int, kb: KnowledgeBaseDep, access: ReadAccess) -> list[AlertOut]:
    """A watch's alerts, newest first."""
    return alerts_out(kb, _own(kb, watch_id, access))


@router.get("/watches/{watch_id}/feed", responses={
    200: {"content": {"application/atom+xml": {}}}, **NOT_FOUND})
def watch_feed(watch_id: int, request: Request, kb: KnowledgeBaseDep,
               token: Annotated[str, Query(max_length=200)] = "") -> Response:
    """The watch's alerts as an Atom feed, for a feed reader: its token is its key."""
    watch = kb.watcher.watch(watch_id)
    if watch is None or not secrets.compare_digest(token.encode(), watch.feed_token.encode()):
        raise HTTPException(status_code=404, detail=f"no watch with id {watch_id}")
    body = atom_feed(watch, alerts_out(kb, watch), str(request.base_url).rstrip("/"))
    return Response(body, media_type="application/atom+xml")
