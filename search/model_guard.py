"""The model guard: an index is only ever searched and extended with the model that built it.

Vectors of two models (or precisions) are not comparable, and an index file is only readable
by the backend that wrote it; opening a data directory with another configuration is refused
with the setting that would open it, never silently mixed.
"""

from __future__ import annotations

import sqlite3

from search.embedding import Encoder
from search.embedding.models import settings_for_model_id
from search.generations import GenerationFiles, published_number
from search.settings import Settings
from search.sql import get_meta, set_meta


class ModelMismatchError(RuntimeError):
    """The index was built with another model (or precision, or index backend) than the
    one configured: refused, never silently mixed."""


def check_model(db: sqlite3.Connection, settings: Settings, encoder: Encoder) -> None:
    """Record the encoder's model in a new database; refuse one that holds another model."""
    model_id = get_meta(db, "model_id")
    dimension = get_meta(db, "dimension")
    if model_id is None:
        set_meta(db, "model_id", encoder.model_id)
        set_meta(db, "dimension", str(encoder.dimension))
        return
    if model_id != encoder.model_id or int(dimension or 0) != encoder.dimension:
        raise ModelMismatchError(
            f"the index in {settings.data_dir} was built with model {model_id!r} "
            f"(dimension {dimension}), but the configured model is "
            f"{encoder.model_id!r} (dimension {encoder.dimension}). "
            f"Set {settings_for_model_id(model_id)} to use this index, or choose "
            "another BRIDGE_DATA_DIR to build a new one."
        )


def check_backend(db: sqlite3.Connection, files: GenerationFiles) -> None:
    """The published generation must be one the configured backend can read."""
    number = published_number(db)
    if not number or files.path(number).exists():
        return
    settings = files.settings
    for path in settings.index_dir.glob(f"vectors-{number:06d}.*"):
        if path.suffix != ".tmp":
            raise ModelMismatchError(
                f"the index in {settings.data_dir} is held by the "
                f"{path.suffix[1:]!r} backend, but the configured backend is "
                f"{settings.index_backend!r}. Set BRIDGE_INDEX_BACKEND="
                f"{path.suffix[1:]} to use this index, or choose another BRIDGE_DATA_DIR "
                "to build a new one.")
