"""Learn from outcomes: fit heads on the store's labelled messages, judge them on a held-out
part, install them only when they read that part better than the current tier.

The pairs come from `domain/text_training.py`. The held-out part is chosen by a hash of each
message id (`held_out`); the new heads never see it. The current tier is the head installed at
the target path when there is one, else the lexicon tier (what the engine reads with). The new
heads are installed when they are at least as good on every figure both can be judged on
(unhappy AUC over the messages a rating followed, category macro recall over the messages a
failure labelled) and better on one; otherwise nothing is written.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from makegood.adapters.sql.text_training import (
    rating_scales,
    read_messages,
    read_outcomes,
    read_raised_failures,
)
from makegood.adapters.text.embedding import EmbeddingAnalyzer
from makegood.adapters.text.head import Heads, LinearHead, fit
from makegood.domain.errors import MakegoodError
from makegood.domain.rules import CompiledPolicy
from makegood.domain.text import Analysis, TextRules
from makegood.domain.text_training import Pair, split, training_pairs

NONE = "(none)"  # the predicted category of a text the reader names no failure in
MIN_HELD_OUT = 10  # held-out messages below which no judgement is made


@dataclass(frozen=True)
class Scores:
    """How a reader did on the held-out part."""

    texts: int
    unhappy: int  # held-out messages a rating labelled unhappy
    rated: int  # held-out messages a rating followed
    auc: float | None  # unhappy against the rest, ranked by -sentiment
    macro_recall: float | None  # over the moods present (negative / neutral / positive)
    categorised: int
    category_recall: float | None  # macro over the categories present
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)  # true -> read -> n
    by_language: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "texts": self.texts,
            "rated": self.rated,
            "unhappy": self.unhappy,
            "auc": _round(self.auc),
            "macro_recall": _round(self.macro_recall),
            "categorised": self.categorised,
            "category_recall": _round(self.category_recall),
            "confusion": self.confusion,
            "by_language": self.by_language,
        }


@dataclass(frozen=True)
class TrainingResult:
    installed: bool
    reason: str
    out: Path
    trained: int  # messages the heads learnt from
    held_out: int
    languages: dict[str, int]  # language -> labelled messages (both parts)
    own_heads: tuple[str, ...]  # languages that got heads of their own
    new: Scores | None
    current: Scores | None
    current_tier: str
    meta: dict[str, Any]

    def summary(self) -> str:
        lines = [
            f"{self.trained + self.held_out} labelled messages: {self.trained} to learn from, "
            f"{self.held_out} held out; languages "
            + ", ".join(f"{k} {n}" for k, n in sorted(self.languages.items()))
            + (f"; heads of their own: {', '.join(self.own_heads)}" if self.own_heads else ""),
        ]
        for name, scores in (("new head", self.new), (self.current_tier, self.current)):
            if scores is not None:
                lines.append(f"{name:>16}: {describe(scores)}")
        if self.new is not None and self.new.confusion:
            lines.append("category confusion on the held-out part (true -> read: n):")
            for true, row in sorted(self.new.confusion.items()):
                n = sum(row.values())
                read = ", ".join(f"{k} {v}" for k, v in sorted(row.items(), key=lambda x: -x[1]))
                lines.append(f"  {true} (n={n}): {read}")
        lines.append(("installed " if self.installed else "not installed: ") + self.reason)
        return "\n".join(lines)


def describe(s: Scores) -> str:
    def figure(value: float | None) -> str:
        return "–" if value is None else f"{value:.3f}"

    return (
        f"unhappy AUC {figure(s.auc)} ({s.unhappy} unhappy of {s.rated} rated), "
        f"mood macro recall {figure(s.macro_recall)}, "
        f"category macro recall {figure(s.category_recall)} (n={s.categorised})"
    )


def scores(analyses: Sequence[Analysis], pairs: Sequence[Pair]) -> Scores:
    """Held-out figures of one reader's `analyses` of the messages of `pairs`."""
    rated = [(a, p.mood) for a, p in zip(analyses, pairs, strict=True) if p.mood]
    truth = [mood == "negative" for _, mood in rated]
    auc_value = auc([-a.sentiment for a, _ in rated], truth)
    recalls: dict[str, list[bool]] = defaultdict(list)
    for a, mood in rated:
        recalls[str(mood)].append(a.label == mood)
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    for a, p in zip(analyses, pairs, strict=True):
        if p.category:
            confusion[p.category][a.category or NONE] += 1
    category_recall = (
        float(np.mean([row[true] / sum(row.values()) for true, row in confusion.items()]))
        if confusion
        else None
    )
    by_language: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    for a, p in zip(analyses, pairs, strict=True):
        if p.mood:
            by_language[a.language].append((-a.sentiment, p.mood == "negative"))
    return Scores(
        texts=len(pairs),
        unhappy=sum(truth),
        rated=len(rated),
        auc=auc_value,
        macro_recall=(
            float(np.mean([np.mean(v) for v in recalls.values()])) if len(recalls) > 1 else None
        ),
        categorised=sum(sum(row.values()) for row in confusion.values()),
        category_recall=category_recall,
        confusion={k: dict(v) for k, v in confusion.items()},
        by_language={
            language: {
                "rated": len(rows),
                "auc": _round(auc([s for s, _ in rows], [u for _, u in rows])),
            }
            for language, rows in sorted(by_language.items())
        },
    )


def auc(values: Sequence[float], truth: Sequence[bool]) -> float | None:
    """The probability that a true case ranks above a false one (ties count half); None
    without both."""
    positives = sum(truth)
    negatives = len(truth) - positives
    if not positives or not negatives:
        return None
    order = np.argsort(np.asarray(values, dtype=np.float64), kind="mergesort")
    ranks = np.empty(len(values), dtype=np.float64)
    sorted_values = np.asarray(values, dtype=np.float64)[order]
    i = 0
    while i < len(values):  # average ranks over ties
        j = i
        while j + 1 < len(values) and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    rank_sum = float(ranks[np.asarray(truth, dtype=bool)].sum())
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def beats(new: Scores, current: Scores) -> tuple[bool, str]:
    """Whether `new` is at least as good on every figure both have and better on one."""
    compared = [
        (name, getattr(new, name), getattr(current, name))
        for name in ("auc", "category_recall")
        if getattr(new, name) is not None and getattr(current, name) is not None
    ]
    if not compared:
        return False, "nothing on the held-out part to judge by (no rated or categorised message)"
    said = ", ".join(f"{name} {a:.3f} against {b:.3f}" for name, a, b in compared)
    if any(a < b for _, a, b in compared):
        return False, f"the new head is worse on the held-out part: {said}"
    if not any(a > b for _, a, b in compared):
        return False, f"the new head is no better on the held-out part: {said}"
    return True, f"better on the held-out part: {said}"


def train_from_pairs(
    pairs: Sequence[Pair],
    rules: TextRules,
    analyzer: EmbeddingAnalyzer,
    out: Path,
    now: datetime,
) -> TrainingResult:
    """Fit, judge and maybe install (write `out`) heads learnt from `pairs`."""
    known = {c.name for c in rules.categories}
    pairs = [p if p.category in known or p.category is None else _no_category(p) for p in pairs]
    pairs = [p for p in pairs if p.mood or p.category]
    train, held = split(pairs, rules.training.held_out)
    texts = [p.message.text for p in pairs]
    locales = [p.message.locale for p in pairs]
    evidence = [analyzer.lexicon.evidence(t, k) for t, k in zip(texts, locales, strict=True)]
    vectors = analyzer.embed(texts)
    features = analyzer.features(texts, vectors, evidence)
    index = {id(p): i for i, p in enumerate(pairs)}
    train_rows = [index[id(p)] for p in train]
    held_rows = [index[id(p)] for p in held]
    languages = Counter(e.language for e in evidence)
    languages_seen = set(languages)
    current_heads, current_tier = _current(out, analyzer)
    base: dict[str, Any] = {
        "out": out,
        "trained": len(train),
        "held_out": len(held),
        "languages": dict(languages),
    }
    if len(held) < MIN_HELD_OUT or len(train) < MIN_HELD_OUT:
        return TrainingResult(
            installed=False,
            reason=f"too few labelled messages ({len(pairs)}): at least "
            f"{int(MIN_HELD_OUT / rules.training.held_out)} are needed to hold out "
            f"{MIN_HELD_OUT}",
            own_heads=(),
            new=None,
            current=None,
            current_tier=current_tier,
            meta={},
            **base,
        )
    pooled = _fit(features, train_rows, pairs)
    if pooled.sentiment is None and pooled.category is None:
        return TrainingResult(
            installed=False,
            reason="the training part has no two moods and no two categories to tell apart",
            own_heads=(),
            new=None,
            current=None,
            current_tier=current_tier,
            meta={},
            **base,
        )
    own: dict[str, Heads] = {}
    for language in sorted(languages_seen - {"und"}):  # undetermined is no language of its own
        rows = [i for i in train_rows if evidence[i].language == language]
        if len(rows) >= rules.training.min_texts and len(rows) < len(train_rows):
            heads = _fit(features, rows, pairs)
            own[language] = Heads(
                analyzer.feature_categories,
                heads.sentiment or pooled.sentiment,
                heads.category or pooled.category,
            )
    new_heads = Heads(analyzer.feature_categories, pooled.sentiment, pooled.category, own)
    held_texts = [texts[i] for i in held_rows]
    held_locales = [locales[i] for i in held_rows]
    new_scores = scores(
        analyzer.analyze_embedded(held_texts, vectors[held_rows], new_heads, held_locales),
        held,
    )
    if current_heads is not None:
        current_read = analyzer.analyze_embedded(
            held_texts, vectors[held_rows], current_heads, held_locales
        )
    else:
        current_read = analyzer.lexicon.analyze_many(held_texts, held_locales)
    current_scores = scores(current_read, held)
    installed, reason = beats(new_scores, current_scores)
    meta = {
        "trained_at": now.isoformat(),
        "texts": len(train),
        "held_out": len(held),
        "languages": dict(languages),
        "own_heads": sorted(own),
        "scores": new_scores.as_dict(),
        "current": {"tier": current_tier, **current_scores.as_dict()},
    }
    if installed:
        out.parent.mkdir(parents=True, exist_ok=True)
        Heads(new_heads.categories, pooled.sentiment, pooled.category, own, meta).save(out)
    return TrainingResult(
        installed=installed,
        reason=reason + (f"; wrote {out}" if installed else f"; {out} left as it was"),
        own_heads=tuple(sorted(own)),
        new=new_scores,
        current=current_scores,
        current_tier=current_tier,
        meta=meta,
        **base,
    )


def train_from_store(
    engine: sa.Engine,
    policy: CompiledPolicy,
    rules: TextRules,
    out: Path,
    now: datetime,
    analyzer: EmbeddingAnalyzer | None = None,
) -> TrainingResult:
    """Read the labelled messages of the store behind `engine` and `train_from_pairs`."""
    p = policy.policy
    with engine.connect() as connection:
        messages = read_messages(connection)
        outcomes = read_outcomes(
            connection, rating_scales(p.reviews, p.follow_up.close_at_or_above)
        )
        failures = read_raised_failures(connection, {m.id for m in messages})
    pairs = training_pairs(
        messages,
        outcomes,
        failures,
        within=rules.training.within,
        reopen_at_or_below=p.follow_up.reopen_at_or_below,
    )
    # the head the policy points at may not exist yet; it is judged from `out` (`_current`)
    analyzer = analyzer or EmbeddingAnalyzer(replace(rules, head=None))
    return train_from_pairs(pairs, rules, analyzer, out, now)


def _fit(features: Any, rows: Sequence[int], pairs: Sequence[Pair]) -> Heads:
    """Heads for whichever task has two classes or more among `rows`."""
    found: dict[str, LinearHead] = {}
    for task in ("sentiment", "category"):
        labelled = [
            (i, label)
            for i in rows
            if (label := pairs[i].mood if task == "sentiment" else pairs[i].category)
        ]
        if len({label for _, label in labelled}) >= 2:
            found[task] = fit(features[[i for i, _ in labelled]], [lab for _, lab in labelled])
    return Heads((), found.get("sentiment"), found.get("category"))


def _current(out: Path, analyzer: EmbeddingAnalyzer) -> tuple[Heads | None, str]:
    """The head installed at `out`, if one is there and fits today's rules; else the lexicon."""
    if not out.exists():
        return None, "lexicon tier"
    try:
        heads = Heads.load(out)
    except MakegoodError:
        return None, "lexicon tier"
    if heads.categories != analyzer.feature_categories:
        return None, "lexicon tier"  # trained on other rules: it cannot read today's features
    return heads, "installed head"


def _no_category(pair: Pair) -> Pair:
    return Pair(pair.message, pair.mood, None)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
