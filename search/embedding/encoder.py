"""The encoder: one loaded model that turns passages and queries into unit vectors."""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from search.embedding.models import (
    FULL_PRECISION,
    Precision,
    QueryRuntime,
    declared_dimension,
    model_id,
    resolve_model,
)
from search.embedding.onnx_query import OnnxQueries, graph_path
from search.embedding.tokens import PlainTokens

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from torch import nn

    from search.settings import Settings

log = logging.getLogger(__name__)

# e5 models were trained with these prefixes; a folder that declares its own
# prompts (config_sentence_transformers.json) keeps them.
E5_PROMPTS = {"query": "query: ", "document": "passage: "}


def quantise_int8(model: nn.Module) -> None:
    """Swap the model's ``nn.Linear`` layers for dynamically quantised int8 ones, in place.

    The linear layers hold nearly all of a transformer's weights and arithmetic; int8 weights,
    with activations quantised per batch, make a CPU encode faster with no calibration data
    and no extra dependency. Two choices keep the accuracy cost small (measured in
    docs/fast_mode.md): weights get a scale per output channel rather than one per matrix,
    and the down-projections (more inputs than outputs: the feed-forward output, whose inputs
    carry the large outlier activations one int8 scale per batch handles worst) stay
    float32; each cuts the ranking loss for a smaller loss of speed.

    PyTorch marks this eager-mode API deprecated in favour of torchao, which is not a
    dependency here; the pinned torch still ships it, so its warnings are silenced rather
    than shown to every user.
    """
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    chosen = {name: per_channel_dynamic_qconfig for name, module in model.named_modules()
              if isinstance(module, torch.nn.Linear)
              and module.in_features <= module.out_features}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"torch\.ao\.quantization is deprecated")
        warnings.filterwarnings("ignore", message=r"torch\.quantize_per_(tensor|channel)")
        quantize_dynamic(model, chosen, dtype=torch.qint8, inplace=True)


class Encoder:
    """A sentence-transformers model with the query/document prompts it expects.

    ``precision="int8"`` quantises the loaded model (``quantise_int8``); its ``model_id``
    then carries ``+int8`` so an index never mixes vectors of the two precisions.
    """

    def __init__(self, name: str, cache_dir: Path, batch_size: int = 32,
                 precision: Precision = FULL_PRECISION, device: str = "cpu",
                 query_runtime: QueryRuntime = "onnx-int8", threads: int | None = None
                 ) -> None:
        self.model_id = model_id(name, precision)
        self.precision = precision
        self.batch_size = batch_size
        if precision == "int8" and device != "cpu":
            # PyTorch's dynamically quantised layers have CPU kernels only.
            log.warning("an int8 encoder runs on the CPU, not on %s", device)
            device = "cpu"
        self._device = device
        self._folder, self._cache_dir = Path(resolve_model(name, cache_dir)), cache_dir
        # ONNX Runtime serves CPU queries (search.embedding.onnx_query) once
        # ``prepare_queries`` loads it, so an ingest never pays for the export.
        self._query_runtime = query_runtime
        self._onnx_wanted = (query_runtime != "torch" and precision == FULL_PRECISION
                             and device == "cpu")
        self._onnx: OnnxQueries | None = None
        self._graph_looked_for = False
        self.threads = threads
        self._onnx_lock = threading.Lock()
        self._export_lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._loaded: SentenceTransformer | None = None
        self._tokens: PlainTokens | None = None
        self._dimension = declared_dimension(self._folder)

    @property
    def _model(self) -> SentenceTransformer:
        """The model, loaded at its first use: commands that embed nothing (``bridge
        status``, an unchanged re-ingest, the key and run commands) never pay for torch and
        the weights."""
        if self._loaded is None:
            with self._load_lock:
                if self._loaded is None:
                    self._loaded = self._load()
        return self._loaded

    def _load(self) -> SentenceTransformer:
        from sentence_transformers import SentenceTransformer

        log.info("loading embedding model %s (%s, %s)", self.model_id, self.precision,
                 self._device)
        if self.threads:
            import torch

            torch.set_num_threads(self.threads)
        model = SentenceTransformer(str(self._folder), device=self._device)
        if self.precision == "int8":
            quantise_int8(model)
        if not model.prompts.get("query") and "e5" in self.model_id.lower():
            model.prompts.update(E5_PROMPTS)
        model.eval()  # once: ``encode_query`` skips ``encode``'s call of it
        return model

    @property
    def dimension(self) -> int:
        """The vectors' length, read from the model folder without loading it when the
        folder declares it."""
        if self._dimension is None:
            self._dimension = int(self._model.get_embedding_dimension())
        return self._dimension

    def _plain_tokens(self) -> PlainTokens:
        """A plain copy of the Rust tokenizer counts: no "sequence too long" warnings, and
        no padding or truncation left behind by an encode (search.embedding.tokens)."""
        if self._tokens is None:
            self._tokens = PlainTokens.of_model(self._folder)
        return self._tokens

    def _batched(self, texts: list[str], embed: Callable[[list[str]], np.ndarray],
                 batch_size: int | None = None) -> np.ndarray:
        """Unit vectors in the order of ``texts``, embedded in batches of similar token counts.

        Every text of a batch is padded to its longest, and the padding costs as much as
        real tokens. sentence-transformers groups a call's texts by characters, a poor proxy
        for tokens, and pads far more (docs/performance.md).
        """
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        longest_first = np.argsort(self._plain_tokens().counts(texts), kind="stable")[::-1]
        batch = batch_size or self.batch_size
        for start in range(0, len(texts), batch):
            rows = longest_first[start:start + batch]
            vectors[rows] = embed([texts[row] for row in rows])
        return vectors

    def _on_torch(self, prompt: str) -> Callable[[list[str]], np.ndarray]:
        """One batch through the model's own ``encode``, with its ``prompt``."""
        model = self._model
        prompt_name = prompt if model.prompts.get(prompt) else None
        return lambda texts: model.encode(texts, prompt_name=prompt_name, batch_size=len(texts),
                                          normalize_embeddings=True, convert_to_numpy=True,
                                          show_progress_bar=False)

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        """Unit vectors for passages (chunks), one row per text: always on torch, so the
        index keeps the vectors it was built with."""
        return self._batched(texts, self._on_torch("document"))

    def encode_queries(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """Unit vectors for search queries (and the words "why it matched" compares), one row
        per text, through the query graph once it is open, else on torch; ``batch_size``
        overrides the setting for texts short enough to batch more of (words)."""
        embed = self._onnx.encode if self._onnx is not None else self._on_torch("query")
        return self._batched(texts, embed, batch_size)

    def encode_query(self, text: str) -> np.ndarray:
        """The unit vector (one row) of the query a user is waiting on.

        The tokens go through the exported pipeline in ONNX Runtime when a graph is open or
        was exported before (``search.embedding.onnx_query``; opening one costs far less
        than loading torch, even for one query), or else straight through the model's own
        steps (forward, normalise) rather than ``encode``, whose per-call bookkeeping (a
        device check over every parameter, ``eval()`` over every module, sorting by length)
        buys nothing for one text. Either way the vector is ``encode_queries``'
        (``tests/test_model_conversion.py``).
        """
        if not self._graph_looked_for:
            self.prepare_queries(only_exported=True)
        if self._onnx is not None:
            return self._onnx.encode([text])
        # The model first: while another thread loads it (the server's warm-up), importing
        # sentence-transformers here would meet transformers' lazy modules half made.
        model = self._model
        import torch
        from sentence_transformers.util import batch_to_device

        features = model.preprocess([text], prompt=model.prompts.get("query"))
        with torch.inference_mode():
            features = batch_to_device(features, model.device)
            vector = model(features)["sentence_embedding"]
            vector = torch.nn.functional.normalize(vector, p=2, dim=1)
        return np.ascontiguousarray(vector.cpu().numpy(), dtype=np.float32)

    @property
    def query_runtime(self) -> QueryRuntime:
        """What embeds queries now: the configured ONNX runtime once a session is open, else
        "torch"."""
        return self._query_runtime if self._onnx is not None else "torch"

    @property
    def model_loaded(self) -> bool:
        """Whether torch and the weights are loaded (a process that only searches through
        an exported graph never loads them)."""
        return self._loaded is not None

    def prepare_queries(self, only_exported: bool = False) -> None:
        """Open the ONNX Runtime session, after which queries use it: over the graph
        exported before, without torch, or else (unless ``only_exported``) exporting it from
        the loaded model. Long-running processes call it as they start: the server (in the
        background), ``bridge eval``, the benchmarks; ``encode_query`` calls it with
        ``only_exported`` (a one-shot ``bridge search`` would spend more on an export than
        it saves). Where queries run on torch (by setting, for int8 or a GPU, or once the
        session could not be made, logged) it loads the model instead."""
        path = graph_path(self._folder, self._cache_dir)
        quantized = self._query_runtime == "onnx-int8"
        with self._onnx_lock:  # looked for once, quickly: queries wait on it
            if self._onnx is None and self._onnx_wanted and not self._graph_looked_for:
                self._onnx = self._session(lambda: OnnxQueries.open(
                    path, self._folder, self.threads, quantized))
                self._graph_looked_for = True
        if only_exported or self._onnx is not None:
            return
        with self._export_lock:  # queries run on torch meanwhile
            if self._onnx is None and self._onnx_wanted:
                self._onnx = self._session(lambda: OnnxQueries.load(
                    self._model, path, self.threads, quantized))
        if self._onnx is None:
            _ = self._model

    def _session(self, make: Callable[[], OnnxQueries | None]) -> OnnxQueries | None:
        try:
            return make()
        except Exception as exc:  # queries still work on torch
            log.warning("queries run on torch: no ONNX Runtime session (%s)", exc)
            self._onnx_wanted = False
            return None

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for ``text``, without special tokens or prompt."""
        return self._plain_tokens().count(text)


@lru_cache(maxsize=4)
def load_encoder(name: str, cache_dir: Path, batch_size: int = 32,
                 precision: Precision = FULL_PRECISION, device: str = "cpu",
                 query_runtime: QueryRuntime = "onnx-int8", threads: int | None = None
                 ) -> Encoder:
    """Load a model once per process (per precision, device, query runtime and threads);
    later calls share it.

    ``device`` is a torch device: "cpu" everywhere but in a Ray encoder actor given a GPU.
    """
    return Encoder(name, cache_dir, batch_size, precision, device, query_runtime, threads)


def configured_encoder(settings: Settings) -> Encoder:
    """The encoder ``settings`` describe (model, batch, precision, query runtime, threads),
    shared per process as ``load_encoder`` shares it."""
    return load_encoder(settings.model, settings.cache_dir, settings.embed_batch_size,
                        settings.encoder_precision, query_runtime=settings.query_runtime,
                        threads=settings.torch_threads)
