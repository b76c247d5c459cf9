"""Shared dependencies: the settings and the knowledge base the app was started with."""

from __future__ import annotations

from fastapi import Request

from search.knowledge_base import KnowledgeBase
from search.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_kb(request: Request) -> KnowledgeBase:
    return request.app.state.kb
