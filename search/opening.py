"""Opening the knowledge base the settings describe: the one way the server, the command
line and the evaluation build it."""

from __future__ import annotations

from search.embedding import configured_encoder
from search.knowledge_base import KnowledgeBase
from search.settings import Settings


def open_knowledge_base(settings: Settings) -> KnowledgeBase:
    """The knowledge base under the configured data directory, its model loaded at first use.

    ``torch_threads`` caps FAISS's OpenMP threads too (the encoder applies it to torch and
    ONNX Runtime): a single query's FAISS search gains nothing from a second thread, while
    the idle thread spins on a core that the encoder or another request could use
    (docs/txtai.md has the measurements).
    """
    if settings.torch_threads:
        import faiss

        faiss.omp_set_num_threads(settings.torch_threads)
    return KnowledgeBase(settings, configured_encoder(settings))
