"""Queries through ONNX Runtime: torch's vectors, without eager PyTorch's overhead per query.

A search embeds one short text while the user waits, and PyTorch's eager mode spends much of
that in per-operation overhead. The model's whole sentence-transformers pipeline (transformer,
pooling, normalisation) is exported once, by torch's own exporter, to an ONNX graph cached
under ``cache_dir/onnx``; ONNX Runtime then runs it in processes that will search many times
(``Encoder.prepare_queries``), with torch's vectors (``tests/test_model_conversion.py``
checks them; docs/performance.md has the timings). Passages stay on torch: batched, long
chunks gain nothing in ONNX Runtime, and the index keeps the vectors it was built with.

Nothing here is needed for a search to work: when the packages, the export or the session
fail, the encoder logs why and embeds queries with torch.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnxruntime
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

OPSET = 17
# The tokenizer outputs a graph may take, in the order its inputs are declared.
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def graph_path(model_dir: Path, cache_dir: Path) -> Path:
    """Where the graph of this model folder lives: keyed by the folder and its files' sizes
    and times, so a changed model is exported anew rather than served stale."""
    files = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns)
                   for p in model_dir.rglob("*") if p.is_file())
    key = hashlib.blake2b(repr((str(model_dir.resolve()), files)).encode(),
                          digest_size=8).hexdigest()
    return cache_dir / "onnx" / f"{model_dir.name}-{key}.onnx"


class OnnxQueries:
    """One model's query pipeline as an ONNX Runtime session."""

    def __init__(self, session: onnxruntime.InferenceSession, inputs: list[str]) -> None:
        self._session = session
        self._inputs = inputs

    @classmethod
    def load(cls, model: SentenceTransformer, path: Path, threads: int) -> OnnxQueries:
        """The session over ``path``, exported from ``model`` first when it is missing or
        does not load (a partial file from an older run, say)."""
        import onnxruntime

        inputs = [name for name in INPUTS if name in model.preprocess(["x"])]
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL

        def session() -> OnnxQueries:
            return cls(onnxruntime.InferenceSession(str(path), options,
                                                    providers=["CPUExecutionProvider"]), inputs)

        if path.is_file():
            try:
                return session()
            except Exception as exc:  # an unreadable graph is exported anew
                log.warning("re-exporting the query graph %s: %s", path, exc)
        export(model, inputs, path)
        return session()

    def encode(self, features: dict) -> np.ndarray:
        """The unit vectors of tokenised texts (``SentenceTransformer.preprocess``)."""
        feed = {name: features[name].numpy() for name in self._inputs}
        return np.ascontiguousarray(self._session.run(None, feed)[0], dtype=np.float32)


def export(model: SentenceTransformer, inputs: list[str], path: Path) -> None:
    """Trace the model's pipeline into an ONNX graph at ``path``, written whole or not at all
    (a temporary file renamed), with batch and token counts left free."""
    import torch

    class Pipeline(torch.nn.Module):
        """The sentence-transformers modules as a function of tensors, for the tracer."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.model(dict(zip(inputs, tensors, strict=True)))["sentence_embedding"]

    example = model.preprocess(["query: an example to trace"])
    path.parent.mkdir(parents=True, exist_ok=True)
    log.info("exporting the query encoder to %s (once per model)", path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes on shapes: the axes are declared
            torch.onnx.export(
                Pipeline().eval(), tuple(example[name] for name in inputs), tmp,
                input_names=inputs, output_names=["sentence_embedding"],
                dynamic_axes={**{name: {0: "texts", 1: "tokens"} for name in inputs},
                              "sentence_embedding": {0: "texts"}},
                opset_version=OPSET, dynamo=False)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide it from a server run as another user
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
