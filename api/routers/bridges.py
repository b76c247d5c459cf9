"""Bridges: from one office's finding to the other offices' closest ones, and their map."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import plotly
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse, HTMLResponse

from api.auth import PageAccess, ReadAccess
from api.deps import KnowledgeBaseDep, SettingsDep
from api.map_page import render_map_html
from api.query_gate import QuerySlot
from api.request_limits import check_finding_length
from api.schemas import BridgeRequest, ErrorResponse
from search.records import BridgeMap, BridgeResult

router = APIRouter(tags=["bridges"])

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
PLOTLY_URL = "/static/plotly.min.js"


@router.post("/bridges", response_model=BridgeResult,
             responses={404: {"model": ErrorResponse}, 429: {"model": ErrorResponse}})
def bridges(request: BridgeRequest, kb: KnowledgeBaseDep, settings: SettingsDep,
            access: ReadAccess, _slot: QuerySlot) -> BridgeResult:
    """The closest findings of the other offices, per document, with why they match."""
    check_finding_length(request.text, settings)
    try:
        return kb.bridges(request.to_query(access.offices))
    except LookupError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc


@router.get("/bridges/map", response_model=BridgeMap,
            responses={200: {"content": {"text/html": {}}}, 429: {"model": ErrorResponse}})
def bridge_map(kb: KnowledgeBaseDep, access: ReadAccess, _slot: QuerySlot,
               format: Annotated[Literal["json", "html"], Query(
                   description="json (default) or html: the map as a page.")] = "json",
               ) -> BridgeMap | HTMLResponse:
    """How strongly each pair of offices is connected, on which themes, and each office's gaps."""
    bridge_map = kb.bridge_map(access.offices)
    if format == "html":
        return HTMLResponse(render_map_html(bridge_map, plotly_src=PLOTLY_URL))
    return bridge_map


@router.get("/map", response_class=HTMLResponse, include_in_schema=False)
def map_page(kb: KnowledgeBaseDep, access: PageAccess) -> HTMLResponse:
    """The bridge map as the web page shows it (a browser session suffices)."""
    return HTMLResponse(render_map_html(kb.bridge_map(access.offices), plotly_src=PLOTLY_URL))


@router.get(PLOTLY_URL, include_in_schema=False)
def plotly_js() -> FileResponse:
    """The plotly.js bundle the map page draws with, from the installed plotly package."""
    return FileResponse(PLOTLY_JS, media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})
