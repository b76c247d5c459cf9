"""Vectors in Milvus (a server, or a Milvus Lite file): one collection per index generation.

Chosen by ``index_backend = "milvus"``; ``milvus_uri`` names the server
(``http://host:19530``) or, when unset, the Milvus Lite file ``milvus.db`` in
the data directory. Both speak through the same pymilvus client.

A generation's collection never changes once published: an index loaded from
a generation's pointer file refers to that collection read-only, and its first
``add`` or ``delete`` copies the rows into a new collection (copy-on-write,
O(n) per publish, the order of FAISS rewriting its file). So readers always
search a whole generation. ``save`` flushes the collection and writes a small
JSON pointer to it; publishing moves the alias ``{prefix}_live`` to the live
generation's collection, for operators and other Milvus clients; pruning drops
the collections no kept generation names (also those of an aborted publish).

Like the FAISS backend, an index is exact (FLAT) up to ``index_exact_limit``
vectors and IVF-SQ8 beyond. A search returns at most 16,384 results per query,
Milvus's largest ``limit``, and a range search at most as many per query.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from pymilvus import DataType, MilvusClient

from search.index.base import VectorIndex
from search.settings import Settings

_MAX_LIMIT = 16_384  # Milvus's largest top-k for one search
_RANGE_FIRST = 16  # range-search hits asked per query at first; more where they fill it
_BATCH = 4_096  # rows per insert or read: ~6 MB at 384 dimensions, far below gRPC's limit
_POINTS_PER_LIST = 39  # as in FAISS: enough training points per inverted list
_PAD_SCORE = np.finfo(np.float32).min  # FAISS's score for a missing result


@dataclass(frozen=True)
class _Layout:
    """How a collection indexes its vectors: exact (``nlist`` 0) or IVF-SQ8."""

    nlist: int = 0
    nprobe: int = 0

    @property
    def kind(self) -> str:
        return f"milvus-ivf{self.nlist}-sq8" if self.nlist else "milvus-flat"

    def index_params(self) -> tuple[str, dict]:
        return ("IVF_SQ8", {"nlist": self.nlist}) if self.nlist else ("FLAT", {})

    def search_params(self, **extra: float) -> dict:
        params = {"nprobe": self.nprobe, **extra} if self.nlist else extra
        return {"metric_type": "IP", "params": params}


class _Collections:
    """The collections of one data directory in one Milvus: named by a prefix."""

    def __init__(self, client: MilvusClient, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    @property
    def alias(self) -> str:
        return f"{self.prefix}_live"

    def owns(self, name: str) -> bool:
        return name.startswith(f"{self.prefix}_gen_")

    def create(self, dimension: int, layout: _Layout) -> str:
        """A new empty collection (a unique name: its generation number is not known yet)."""
        name = f"{self.prefix}_gen_{uuid.uuid4().hex}"
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        index_type, params = layout.index_params()
        index = self.client.prepare_index_params()
        index.add_index("vector", index_type=index_type, metric_type="IP", params=params)
        # strong consistency: a search right after an insert or delete sees it
        self.client.create_collection(name, schema=schema, index_params=index,
                                      consistency_level="Strong")
        return name

    def rows(self, name: str) -> Iterator[list[dict]]:
        """Every row of a collection, in batches."""
        pages = self.client.query_iterator(name, batch_size=_BATCH, filter="",
                                           output_fields=["id", "vector"])
        try:
            while page := pages.next():
                yield page
        finally:
            pages.close()

    def count(self, name: str) -> int:
        [row] = self.client.query(name, filter="", output_fields=["count(*)"])
        return int(row["count(*)"])

    def point_alias(self, name: str) -> None:
        if self.alias in self.client.list_aliases()["aliases"]:
            self.client.alter_alias(name, self.alias)
        else:
            self.client.create_alias(name, self.alias)

    def drop_unnamed(self, keep: set[str]) -> None:
        """Drop this prefix's collections that no kept generation names."""
        for name in self.client.list_collections():
            if self.owns(name) and name not in keep:
                self.client.drop_collection(name)


def _batches(n: int) -> Iterator[slice]:
    return (slice(start, start + _BATCH) for start in range(0, n, _BATCH))


def _id_filter(ids: np.ndarray) -> str:
    """A filter expression on the primary key (Milvus Lite takes no filter templates)."""
    return f"id in [{','.join(str(int(i)) for i in ids)}]"


def _read_pointer(path: Path) -> dict:
    return json.loads(path.read_text())


class MilvusIndex(VectorIndex):
    """One Milvus collection of ``(id, vector)`` rows, searched by inner product.

    Use :meth:`connect` for a class bound to the Milvus of some settings; the
    class methods of the interface (``for_size``, ``load``, ...) need one.
    """

    collections: _Collections

    def __init__(self, dimension: int, layout: _Layout | None = None,
                 collection: str | None = None) -> None:
        super().__init__(dimension)
        self._layout = layout or _Layout()
        self._name = collection
        self._owned = False  # a loaded (published) collection is never changed in place
        self._count = self.collections.count(collection) if collection else 0

    @classmethod
    def connect(cls, settings: Settings) -> type[MilvusIndex]:
        """This class bound to the Milvus and collection prefix that ``settings`` name."""
        uri = settings.milvus_uri or str(settings.data_dir / "milvus.db")
        client = MilvusClient(uri=uri, token=settings.milvus_token or "")
        collections = _Collections(client, settings.milvus_collection_prefix)
        return type(cls.__name__, (cls,), {"collections": collections})

    @classmethod
    def for_size(cls, dimension: int, expected: int, exact_limit: int,
                 nprobe: int) -> MilvusIndex:
        if expected <= exact_limit:
            return cls(dimension)
        nlist = max(1, min(int(4 * math.sqrt(expected)), expected // _POINTS_PER_LIST, 65_536))
        return cls(dimension, _Layout(nlist, nprobe))

    @property
    def exact(self) -> bool:
        return not self._layout.nlist

    @property
    def kind(self) -> str:
        return self._layout.kind

    def _writable(self) -> str:
        """The collection this index may change: created, or copied from the loaded one."""
        if not self._owned:
            source, self._name = self._name, self.collections.create(self.dimension,
                                                                     self._layout)
            self._owned = True
            if source is not None:
                for page in self.collections.rows(source):
                    self.collections.client.insert(self._name, page)
        return self._name

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            name, client = self._writable(), self.collections.client
            ids, vectors = np.asarray(ids, np.int64), np.asarray(vectors, np.float32)
            for rows in _batches(len(ids)):
                client.insert(name, [{"id": int(i), "vector": v}
                                     for i, v in zip(ids[rows], vectors[rows], strict=True)])
            self._count = self.collections.count(name)

    def delete(self, ids: np.ndarray) -> None:
        if len(ids):
            name, ids = self._writable(), np.asarray(ids, np.int64)
            for rows in _batches(len(ids)):
                self.collections.client.delete(name, filter=_id_filter(ids[rows]))
            self._count = self.collections.count(name)

    def search(
        self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        queries = np.asarray(queries, dtype=np.float32)
        k = min(k, len(self), _MAX_LIMIT)
        if k <= 0 or (allowed_ids is not None and len(allowed_ids) == 0):
            return (np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64))
        hits = self._search(queries, k, self._layout.search_params(),
                            _id_filter(allowed_ids) if allowed_ids is not None else "")
        scores = np.full((len(queries), k), _PAD_SCORE, np.float32)
        ids = np.full((len(queries), k), -1, np.int64)
        for row, (found, similarities) in enumerate(hits):
            ids[row, :len(found)], scores[row, :len(found)] = found, similarities
        return scores, ids

    def _search(self, queries: np.ndarray, limit: int, params: dict,
                expression: str = "") -> list[tuple[np.ndarray, np.ndarray]]:
        """Per query, the (ids, scores) Milvus returns, best first."""
        results = self.collections.client.search(
            self._name, data=queries, limit=limit, filter=expression, output_fields=["id"],
            search_params=params)
        return [(np.array([h["id"] for h in hits], np.int64),
                 np.array([h["distance"] for h in hits], np.float32)) for hits in results]

    def range_search(self, queries: np.ndarray,
                     threshold: float) -> list[tuple[np.ndarray, np.ndarray]]:
        """Asks for a few hits per query, and 16 times as many again only for the queries
        whose page filled: most chunks have few near-duplicates, and hits cost (Milvus Lite
        range-searches by filtering a top-k five times the limit)."""
        queries = np.asarray(queries, dtype=np.float32)
        found = [(np.zeros(0, np.int64), np.zeros(0, np.float32)) for _ in queries]
        # Milvus keeps scores strictly above the radius; the interface wants "at least"
        params = self._layout.search_params(radius=float(np.nextafter(threshold, -1.0)))
        cap, limit = min(len(self), _MAX_LIMIT), min(len(self), _RANGE_FIRST)
        pending = list(range(len(queries))) if cap else []
        while pending:
            for row, hits in zip(pending, self._search(queries[pending], limit, params),
                                 strict=True):
                found[row] = hits
            pending = [row for row in pending if len(found[row][0]) == limit < cap]
            limit = min(cap, limit * 16)
        return [(ids[scores >= threshold], scores[scores >= threshold])
                for ids, scores in found]

    def save(self, path: Path) -> None:
        """Flush the collection and point ``path`` at it; it is frozen from now on."""
        name = self._name if self._name is not None else self._writable()
        self.collections.client.flush(name)
        path.write_text(json.dumps({"collection": name, "dimension": self.dimension,
                                    "kind": self.kind, "layout": asdict(self._layout)}))
        self._owned = False

    @classmethod
    def load(cls, path: Path) -> MilvusIndex:
        pointer = _read_pointer(path)
        cls.collections.client.load_collection(pointer["collection"])  # released when reopened
        return cls(pointer["dimension"], _Layout(**pointer["layout"]), pointer["collection"])

    @classmethod
    def publish(cls, path: Path) -> None:
        """Move the live alias to the collection of the generation at ``path``."""
        cls.collections.point_alias(_read_pointer(path)["collection"])

    @classmethod
    def retire(cls, dropped: list[Path], kept: list[Path]) -> None:
        """Forget the dropped pointers, then drop every collection no kept pointer names:
        those of pruned generations and those copied by a publish that never finished."""
        super().retire(dropped, kept)
        cls.collections.drop_unnamed({_read_pointer(p)["collection"] for p in kept})

    def __len__(self) -> int:
        return self._count
