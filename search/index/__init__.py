"""Vector index backends behind one small interface, chosen by name from settings."""

from collections.abc import Callable

from search.index.base import VectorIndex
from search.index.faiss_index import FaissIndex
from search.settings import Settings


def _faiss(settings: Settings) -> type[VectorIndex]:
    return FaissIndex


def _milvus(settings: Settings) -> type[VectorIndex]:
    from search.index.milvus_index import MilvusIndex  # pymilvus only where Milvus is chosen

    return MilvusIndex.connect(settings)


BACKENDS: dict[str, Callable[[Settings], type[VectorIndex]]] = {"faiss": _faiss,
                                                                "milvus": _milvus}


def index_class(settings: Settings) -> type[VectorIndex]:
    """The class of ``settings.index_backend``, bound to its store where it has one (a
    Milvus); unknown names fail loudly."""
    try:
        backend = BACKENDS[settings.index_backend]
    except KeyError:
        raise ValueError(f"unknown index backend {settings.index_backend!r}; "
                         f"known: {sorted(BACKENDS)}") from None
    return backend(settings)


__all__ = ["BACKENDS", "FaissIndex", "VectorIndex", "index_class"]
