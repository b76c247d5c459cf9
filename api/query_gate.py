"""Load shedding: at most ``max_concurrent_queries`` queries compute at once; one that would
wait longer than ``query_wait_s`` for its turn is refused with 429 and ``Retry-After``.

Queries are CPU work (embedding, FAISS, BM25) on a few cores: running more of them at once
only makes each slower, and a server that queues without bound answers every client late once
it is saturated. The gate admits queries in arrival order, lets a short queue form (a burst
is absorbed), and past the wait tells the client to come back instead of holding it.
Searches, bridges, the bridge map and the pages that run them (search results, a
document's bridges) go through it; health, metrics, listings and uploads do not.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from search.settings import Settings


class QueryGate:
    """The slots queries compute in; one per application, made inside its event loop."""

    def __init__(self, settings: Settings) -> None:
        self._slots = asyncio.Semaphore(settings.max_concurrent_queries)
        self._wait_s = settings.query_wait_s
        self.shed = 0  # queries refused so far (a metric)

    async def enter(self) -> None:
        """Take a slot, waiting at most ``query_wait_s``; a 429 past that."""
        if not self._slots.locked():  # a free slot is taken at once, whatever the wait
            await self._slots.acquire()
            return
        try:
            await asyncio.wait_for(self._slots.acquire(), self._wait_s)
        except TimeoutError:
            self.shed += 1
            raise HTTPException(
                status_code=429, headers={"Retry-After": str(max(1, math.ceil(self._wait_s)))},
                detail="the server is answering as many queries as it can; try again in a "
                       "moment") from None

    def leave(self) -> None:
        self._slots.release()


async def query_slot(request: Request) -> AsyncIterator[None]:
    """Hold a slot of the app's gate for the request (the route runs inside it)."""
    gate: QueryGate = request.app.state.query_gate
    await gate.enter()
    try:
        yield
    finally:
        gate.leave()


QuerySlot = Annotated[None, Depends(query_slot)]
