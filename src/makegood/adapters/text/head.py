"""Small linear heads fitted on a business's own labelled messages (embedding tier).

A head is multinomial logistic regression over the sentence embedding plus what the lexicon
tier reads (its scores, the cues, which categories' patterns matched): a few thousand numbers,
saved as one ``.npz`` file (no pickle) that the policy's ``text.head`` points to. Classes are
weighted so a rare category counts as much as a common one.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from makegood.domain.errors import MakegoodError
from makegood.domain.text import CUES, LABELS, Analysis, TextRules

if TYPE_CHECKING:
    from makegood.adapters.text.embedding import EmbeddingAnalyzer

Array = Any
FORMAT = 2  # 1: one set of heads, no languages, no meta (still read)
STEPS = 300
L2_SCALE = 1000.0
MIN_L2 = 0.05
MAX_L2 = 3.0
# L2 strengths tried by inner cross-validation on the training part (`choose_penalty`)
PENALTIES = (0.05, 0.15, 0.5, 1.5)
INNER_FOLDS = 3
MIN_INNER = 60  # rows below which the strength follows `penalty(n)` instead
INNER_SEED = 20261126


@dataclass(frozen=True)
class LinearHead:
    classes: tuple[str, ...]
    weights: Array  # (features, classes)
    bias: Array  # (classes,)
    mean: Array  # feature standardisation
    scale: Array

    def probabilities(self, features: Array) -> Array:
        logits = ((features - self.mean) / self.scale) @ self.weights + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Heads:
    """The trained heads and the category names whose pattern matches they were fed.

    `languages`: heads of their own for some languages (trained from the store when a language
    has enough labelled messages); any other language is read by these, pooled, heads.
    `meta`: how they were trained (when, on how many texts, held-out scores), for the report.
    """

    categories: tuple[str, ...]
    sentiment: LinearHead | None = None
    category: LinearHead | None = None
    languages: Mapping[str, Heads] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)

    def for_language(self, language: str) -> Heads:
        return self.languages.get(language, self)

    def save(self, path: Path) -> None:
        arrays: dict[str, Array] = {
            "format": np.array(FORMAT),
            "feature_categories": np.array(self.categories, dtype=str),
            "languages": np.array(sorted(self.languages), dtype=str),
            "meta": np.array(json.dumps(self.meta, default=str)),
        }
        for prefix, heads in (("", self), *((f"{k}:", v) for k, v in self.languages.items())):
            for task, head in (("sentiment", heads.sentiment), ("category", heads.category)):
                if head is not None:
                    arrays |= {
                        f"{prefix}{task}_classes": np.array(head.classes, dtype=str),
                        f"{prefix}{task}_weights": head.weights,
                        f"{prefix}{task}_bias": head.bias,
                        f"{prefix}{task}_mean": head.mean,
                        f"{prefix}{task}_scale": head.scale,
                    }
        # written beside, then moved: a reader (serve, analyze) never sees half a file
        partial = path.with_name(path.name + ".partial")
        with partial.open("wb") as f:
            np.savez(f, **arrays)
        partial.replace(path)

    @classmethod
    def load(cls, path: Path) -> Heads:
        try:
            with np.load(path, allow_pickle=False) as data:
                if int(data["format"]) not in (1, FORMAT):
                    raise MakegoodError(f"{path}: head format {int(data['format'])} is unknown")

                def head(prefix: str, task: str) -> LinearHead | None:
                    if f"{prefix}{task}_weights" not in data:
                        return None
                    return LinearHead(
                        tuple(str(c) for c in data[f"{prefix}{task}_classes"]),
                        data[f"{prefix}{task}_weights"],
                        data[f"{prefix}{task}_bias"],
                        data[f"{prefix}{task}_mean"],
                        data[f"{prefix}{task}_scale"],
                    )

                categories = tuple(str(c) for c in data["feature_categories"])
                languages = [str(k) for k in data["languages"]] if "languages" in data else []
                meta = json.loads(str(data["meta"])) if "meta" in data else {}
                return cls(
                    categories,
                    head("", "sentiment"),
                    head("", "category"),
                    {
                        k: cls(categories, head(f"{k}:", "sentiment"), head(f"{k}:", "category"))
                        for k in languages
                    },
                    meta if isinstance(meta, dict) else {},
                )
        except (OSError, KeyError, ValueError) as exc:
            raise MakegoodError(f"{path}: not a makegood text head ({exc})") from None


def penalty(n: int) -> float:
    """L2 strength for `n` examples when there are too few to choose it by inner
    cross-validation (`choose_penalty`): strong for a few dozen messages, weaker with more.

    Chosen on the evaluation's cross-validation (bench/text_eval.py) by an earlier version;
    it now decides only below `MIN_INNER` examples.
    """
    return min(MAX_L2, max(MIN_L2, L2_SCALE / max(n, 1)))


def choose_penalty(x: Array, labels: Sequence[str], steps: int = STEPS) -> float:
    """The L2 strength among `PENALTIES` that predicts best what it did not see: heads fitted
    on two of `INNER_FOLDS` class-stratified folds of these rows are scored on the third by
    class-balanced log-loss. Only the rows given are used (the training part); fewer than
    `MIN_INNER` rows, or a class with fewer rows than folds, falls back to `penalty`."""
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    if len(labels) < MIN_INNER or min(counts.values()) < INNER_FOLDS:
        return penalty(len(labels))
    rng = np.random.default_rng(INNER_SEED)
    fold = np.empty(len(labels), dtype=np.int64)
    for c in sorted(counts):
        rows = np.flatnonzero(np.array([label == c for label in labels]))
        fold[rng.permutation(rows)] = np.arange(len(rows)) % INNER_FOLDS
    loss = dict.fromkeys(PENALTIES, 0.0)
    for k in range(INNER_FOLDS):
        train = np.flatnonzero(fold != k).tolist()
        held = np.flatnonzero(fold == k).tolist()
        for l2 in PENALTIES:
            head = fit(x[train], [labels[i] for i in train], steps, l2)
            p = head.probabilities(x[held])
            index = {c: i for i, c in enumerate(head.classes)}
            per_class: dict[str, list[float]] = {}
            for row, i in enumerate(held):
                got = p[row, index[labels[i]]] if labels[i] in index else 0.0
                per_class.setdefault(labels[i], []).append(-float(np.log(max(got, 1e-9))))
            loss[l2] += float(np.mean([np.mean(v) for v in per_class.values()]))
    return min(PENALTIES, key=lambda l2: (loss[l2], -l2))  # ties: the stronger


def fit(
    features: Array, labels: Sequence[str], steps: int = STEPS, l2: float | None = None
) -> LinearHead:
    """Class-balanced multinomial logistic regression, full-batch Adam; deterministic. The L2
    strength `l2`, when not given, is chosen by `choose_penalty` on these rows only."""
    l2 = choose_penalty(np.asarray(features, dtype=np.float32), labels, steps) if l2 is None else l2
    classes = tuple(sorted(set(labels)))
    if len(classes) < 2:
        raise MakegoodError(f"a head needs at least two classes, got {list(classes)}")
    x = np.asarray(features, dtype=np.float32)
    mean, scale = x.mean(axis=0), x.std(axis=0) + np.float32(1e-6)
    x = (x - mean) / scale
    xt = np.ascontiguousarray(x.T)  # the gradient's product runs on this every step
    index = {c: i for i, c in enumerate(classes)}
    y = np.zeros((len(labels), len(classes)), dtype=np.float32)
    y[np.arange(len(labels)), [index[label] for label in labels]] = 1.0
    weight = (len(labels) / (len(classes) * y.sum(axis=0)))[None, :] * y  # balanced
    sample = weight.sum(axis=1, keepdims=True) / len(labels)
    w = np.zeros((x.shape[1], len(classes)), dtype=np.float32)
    b = np.zeros(len(classes), dtype=np.float32)
    moments = [np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b)]
    rate, beta1, beta2 = 0.05, 0.9, 0.999
    for step in range(1, steps + 1):
        logits = x @ w + b
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        error = (p - y) * sample
        grads = (xt @ error + np.float32(l2) * w, error.sum(axis=0))
        for param, grad, m, v in ((w, grads[0], *moments[:2]), (b, grads[1], *moments[2:])):
            m *= beta1
            m += (1 - beta1) * grad
            v *= beta2
            v += (1 - beta2) * grad * grad
            param -= rate * (m / (1 - beta1**step)) / (np.sqrt(v / (1 - beta2**step)) + 1e-8)
    f32 = np.float32
    return LinearHead(classes, w.astype(f32), b.astype(f32), mean.astype(f32), scale.astype(f32))


def fit_heads(
    analyzer: EmbeddingAnalyzer,
    texts: Sequence[str],
    vectors: Array,
    sentiments: Sequence[str | None],
    categories: Sequence[str | None],
) -> Heads:
    """Heads for whichever of sentiment and category has labels (rows without one are skipped
    for that head)."""
    features = analyzer.features(texts, vectors)
    heads: dict[str, LinearHead] = {}
    for task, labels in (("sentiment", sentiments), ("category", categories)):
        rows = [i for i, label in enumerate(labels) if label]
        if rows:
            heads[task] = fit(features[rows], [str(labels[i]) for i in rows])
    return Heads(analyzer.feature_categories, heads.get("sentiment"), heads.get("category"))


def cross_validated_heads(
    analyzer: EmbeddingAnalyzer,
    texts: Sequence[str],
    vectors: Array,
    sentiments: Sequence[str | None],
    categories: Sequence[str | None] | None,
    folds: int,
    seed: int = 20261123,
) -> list[Analysis]:
    """Each text analysed by heads fitted on the other folds only (for evaluation)."""
    order = np.random.default_rng(seed).permutation(len(texts))
    results: list[Analysis | None] = [None] * len(texts)
    no_categories: list[str | None] = [None] * len(texts)
    for k in range(folds):
        held = np.sort(order[k::folds])
        train = np.setdiff1d(np.arange(len(texts)), held)
        heads = fit_heads(
            analyzer,
            [texts[i] for i in train],
            vectors[train],
            [sentiments[i] for i in train],
            [(categories or no_categories)[i] for i in train],
        )
        for i, a in zip(
            held,
            analyzer.analyze_embedded([texts[i] for i in held], vectors[held], heads),
            strict=True,
        ):
            results[i] = a
    return [a for a in results if a is not None]


def train_head_from_csv(labelled: Path, out: Path, rules: TextRules) -> str:
    """Fit heads on a CSV with a `text` column and `sentiment` and/or `category` columns."""
    from makegood.adapters.text.embedding import EmbeddingAnalyzer

    with labelled.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        columns = set(reader.fieldnames or ())
        if "text" not in columns or not columns & {"sentiment", "category"}:
            raise MakegoodError(
                f"{labelled}: needs a `text` column and a `sentiment` or `category` column"
            )
        rows = list(reader)
    known = {c.name for c in rules.categories}
    sentiments: list[str | None] = []
    categories: list[str | None] = []
    for line, row in enumerate(rows, start=2):
        sentiment = (row.get("sentiment") or "").strip() or None
        category = (row.get("category") or "").strip() or None
        if sentiment is not None and sentiment not in LABELS:
            raise MakegoodError(
                f"{labelled}: line {line}: sentiment must be one of "
                f"{', '.join(LABELS)}, not {sentiment!r}"
            )
        if category is not None and category not in known:
            raise MakegoodError(
                f"{labelled}: line {line}: category {category!r} is not defined "
                "in the policy's text rules"
            )
        sentiments.append(sentiment)
        categories.append(category)
    analyzer = EmbeddingAnalyzer(rules)
    texts = [row["text"] for row in rows]
    heads = fit_heads(analyzer, texts, analyzer.embed(texts), sentiments, categories)
    heads.save(out)
    parts = [
        f"{task} head: {len(head.classes)} classes ({', '.join(head.classes)})"
        for task, head in (("sentiment", heads.sentiment), ("category", heads.category))
        if head is not None
    ]
    return (
        f"wrote {out} from {len(rows)} messages; "
        + "; ".join(parts)
        + (f". Point the policy at it: text: {{head: {out}}}")
    )


def feature_names(categories: Sequence[str]) -> list[str]:
    """The non-embedding features, in order (documentation and debugging)."""
    return [
        "lexicon",
        "sentiment",
        "share:positive",
        "share:negative",
        "share:neutral",
        *(f"cue:{c}" for c in CUES),
        *(f"pattern:{c}" for c in categories),
    ]
