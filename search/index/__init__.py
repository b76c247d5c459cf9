"""Vector index backends behind one small interface, chosen by name from settings."""

from search.index.base import VectorIndex
from search.index.faiss_index import FaissIndex

BACKENDS: dict[str, type[VectorIndex]] = {"faiss": FaissIndex}


def index_class(backend: str) -> type[VectorIndex]:
    """The backend class for a settings name; unknown names fail loudly."""
    try:
        return BACKENDS[backend]
    except KeyError:
        raise ValueError(f"unknown index backend {backend!r}; known: {sorted(BACKENDS)}") from None


__all__ = ["BACKENDS", "FaissIndex", "VectorIndex", "index_class"]
