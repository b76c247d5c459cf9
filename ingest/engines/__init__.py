"""Ingest engines, chosen by name from settings: ``local`` (this machine) or ``ray``."""

from __future__ import annotations

from ingest.engines.base import EmbeddedFile, IngestEngine
from ingest.engines.local import LocalEngine
from ingest.preparing import PrepareSpec
from search.knowledge_base import KnowledgeBase

ENGINES = ("local", "ray")  # the names settings.ingest_engine and --engine take
GROUP_BATCHES = 16  # most encoder batches in one embedding group: large groups pad little


def engine_for(kb: KnowledgeBase, spec: PrepareSpec, name: str | None = None,
               ray_address: str | None = None) -> IngestEngine:
    """The engine ``name`` names (default: ``settings.ingest_engine``), configured from the
    settings; ``ray_address`` overrides ``settings.ray_address``."""
    settings = kb.settings
    if (name or settings.ingest_engine) == "ray":
        from ingest.engines.ray_engine import RayEngine

        return RayEngine(kb.encoder, kb.embedding_cache, spec, settings,
                         ray_address or settings.ray_address)
    if (name or "local") != "local":
        raise ValueError(f"unknown ingest engine {name!r}; known: {', '.join(ENGINES)}")
    return LocalEngine(kb.encoder, kb.embedding_cache, spec, settings.ingest_workers,
                       settings.embed_batch_size, settings.embed_batch_size * GROUP_BATCHES)


__all__ = ["ENGINES", "EmbeddedFile", "IngestEngine", "LocalEngine", "engine_for"]
