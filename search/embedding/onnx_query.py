"""Queries through ONNX Runtime: torch's vectors, without eager PyTorch's overhead per query.

A search embeds one short text while the user waits, and PyTorch's eager mode spends much of
that in per-operation overhead. The model's whole sentence-transformers pipeline (transformer,
pooling, normalisation) is exported once, by torch's own exporter, to an ONNX graph cached
under ``cache_dir/onnx``; ONNX Runtime then runs it in processes that will search many times
(``Encoder.prepare_queries``), with torch's vectors (``tests/test_model_conversion.py``
checks them; docs/performance.md has the timings). Once exported, a graph is opened
without torch: the Rust tokenizer makes its inputs as the model's preprocessing does, so a
process that only searches never loads torch or the weights. Passages stay on torch:
batched, long chunks gain nothing in ONNX Runtime, and the index keeps the vectors it was
built with.

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

from search.embedding.tokens import QueryTokenizing, QueryTokens

if TYPE_CHECKING:
    import onnx
    import onnxruntime
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

OPSET = 17
_INT8 = "-int8.onnx"  # the quantised sibling of a graph file
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
    """One model's query pipeline as an ONNX Runtime session, with the tokens it takes."""

    def __init__(self, session: onnxruntime.InferenceSession, tokens: QueryTokens) -> None:
        self._session = session
        self._tokens = tokens

    @classmethod
    def open(cls, path: Path, model_dir: Path, threads: int | None,
             quantized: bool = False) -> OnnxQueries | None:
        """The session over a graph exported before, made without torch or the model's
        weights (a process that only searches never loads them); None when the graph, its
        tokenizing facts or the folder's ``tokenizer.json`` are missing, or it does not
        load."""
        tokenizing = QueryTokenizing.read(tokenizing_path(path))
        tokens = tokenizing and QueryTokens.of_folder(model_dir, tokenizing)
        if not tokens or not path.is_file():
            return None
        try:
            return cls(_session(quantized_graph(path) if quantized else path, threads), tokens)
        except Exception as exc:  # the model's path below makes it anew
            log.warning("the query graph at %s does not load: %s", path, exc)
            return None

    @classmethod
    def load(cls, model: SentenceTransformer, path: Path, threads: int | None,
             quantized: bool = False) -> OnnxQueries:
        """The session over the graph at ``path`` (or, ``quantized``, over its int8 sibling),
        made from ``model`` first when it is missing or does not load (a partial file from an
        older run, say); the tokenizing facts are saved beside it for ``open``."""
        from tokenizers import Tokenizer

        inputs = [name for name in INPUTS if name in model.preprocess(["x"])]
        tokenizing = QueryTokenizing.of_model(model, inputs)
        tokens = QueryTokens(Tokenizer.from_str(model.tokenizer.backend_tokenizer.to_str()),
                             tokenizing)

        def session() -> OnnxQueries:
            if not path.is_file():
                export(model, inputs, path)
            tokenizing.save(tokenizing_path(path))
            return cls(_session(quantized_graph(path) if quantized else path, threads), tokens)

        try:
            return session()
        except Exception as exc:  # an unreadable graph is made anew
            log.warning("making the query graph again (%s): %s", path, exc)
        for graph in (path, path.with_name(f"{path.stem}{_INT8}")):
            graph.unlink(missing_ok=True)
        return session()

    def encode(self, texts: list[str]) -> np.ndarray:
        """The unit vectors of query texts, one row each."""
        feed = self._tokens.features(texts)
        return np.ascontiguousarray(self._session.run(None, feed)[0], dtype=np.float32)


def tokenizing_path(path: Path) -> Path:
    """Where the tokenizing facts of the graph at ``path`` are kept."""
    return path.with_suffix(".tokens.json")


def _session(graph: Path, threads: int | None) -> onnxruntime.InferenceSession:
    """A CPU session over ``graph``; ``threads`` (None: ONNX Runtime's choice) runs one
    query's operators, one operator at a time."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or 0
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])


def quantized_graph(path: Path) -> Path:
    """The int8 sibling of the float graph at ``path``, made from it once.

    Dynamic quantisation stores a matrix product's weights in int8, one scale per output
    channel, and quantises its activations on the fly. Every product is quantised but those
    that narrow (more inputs than outputs: a transformer layer's feed-forward output, which
    reads the widest and least regular activations): quantising those too moved the vectors
    past what the dev sets allow. The passages keep their float vectors (docs/quality.md and
    docs/performance.md have the figures).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = path.with_name(f"{path.stem}{_INT8}")
    if target.is_file():
        return target
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        graph = onnx.load(str(path))  # read once, for both the choice and the quantiser
        quantize_dynamic(graph, tmp, weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"], nodes_to_exclude=_narrowing(graph))
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def _narrowing(model: onnx.ModelProto) -> list[str]:
    """The matrix products of a graph whose weight has more rows than columns."""
    graph = model.graph
    shapes = {weight.name: tuple(weight.dims) for weight in graph.initializer}
    return [node.name for node in graph.node if node.op_type == "MatMul"
            and any(len(shapes.get(name, ())) == 2 and shapes[name][0] > shapes[name][1]
                    for name in node.input)]


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
