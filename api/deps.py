"""Shared dependencies: the settings and the knowledge base the app was started with.

Routes take them as ``SettingsDep`` and ``KnowledgeBaseDep``, so that a route reads the
settings one way and a test can override either in one place.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from search.knowledge_base import KnowledgeBase
from search.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_kb(request: Request) -> KnowledgeBase:
    return request.app.state.kb


SettingsDep = Annotated[Settings, Depends(get_settings)]
KnowledgeBaseDep = Annotated[KnowledgeBase, Depends(get_kb)]
