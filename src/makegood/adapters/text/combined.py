"""The combined tier: the lexicon tier's evidence and MiniLM's nearness to the policy's example
phrases, added up with no training (the embedding tier when no head is installed).

One text gets two readings from the same evidence:

- its **score** (`Analysis.sentiment`, what ``sentiment <= -0.4`` in a policy compares), which
  ranks texts from the unhappiest up: the lexicon's score (already pulled down by pattern and
  cue evidence) plus the text's lean towards the positive rather than the negative sentiment
  examples, less its nearness to the failure categories' examples. Each embedding term is
  scaled to the lexicon's spread and centred on what it reads on neutral messages, so it
  moves a neutral message nowhere and counts about as much as the lexicon
  (``lean_weight``, ``failure_weight``: a "improper linear model" of standardised signals
  with round weights, nothing fitted);
- its **label** (negative / neutral / positive): the lexicon's score shrunk when the text is
  nearest the neutral examples, plus a small lean (``neutral_pull``, ``mood_weight``), less
  the nearness to a failure past ``complaint_from``, read against the policy's thresholds.
  A text the lexicon finds no word in stays neutral unless the embedding is clear about it,
  which the score alone would not leave it: the score's job is ranking, the label's the
  three-way call, and one formula was measurably worse at one of them.

The category is the nearest category's examples plus each (negation-checked) pattern match.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from makegood.adapters.text.scoring import Evidence, analysis
from makegood.domain.text import LABELS, Analysis, TextRules, label_for

Array = Any


@dataclass(frozen=True)
class Calibration:
    """The combined tier's constants. ``lean_*`` and ``failure_*`` are derived by
    bench/text_calibrate.py from messages written for it (bench/own_texts.py), never from the
    evaluation data; the label's constants were set by hand (docs/TEXT.md says how)."""

    # the label (three-way reading)
    category_threshold: float = 0.3  # cosine to a category's nearest example, non-complaint
    pattern_bonus: float = 0.3  # added per pattern match of that category
    nearest: int = 3  # a text's nearness to a label: mean cosine to its closest examples
    temperature: float = 0.02  # softmax temperature over the three nearnesses
    mood_weight: float = 0.08  # how much the lean to positive or negative adds to the label
    neutral_pull: float = 0.9  # how much nearness to the neutral examples shrinks the lexicon
    complaint_from: float = 0.3  # cosine to the nearest failure example above which ...
    complaint_weight: float = 0.5  # ... a text reads worse by this much per unit of cosine
    # the score (ranking): lexicon units per unit of cosine, and the neutral messages' mean
    lean_weight: float = 1.89  # positive-minus-negative nearness
    lean_center: float = -0.0175
    failure_weight: float = 1.21  # nearness to the nearest failure example
    failure_center: float = 0.4246


@dataclass(frozen=True)
class Nearness:
    """How near one text is to the policy's examples (cosines)."""

    moods: tuple[float, float, float]  # negative, neutral, positive: mean of the closest few
    categories: dict[str, float]  # category -> its nearest example

    @property
    def lean(self) -> float:
        """Nearer the positive examples than the negative ones: > 0."""
        return self.moods[2] - self.moods[0]

    @property
    def failure(self) -> float:
        """Nearness to the nearest failure example, 0 without categories."""
        return max(self.categories.values(), default=0.0)


class Prototypes:
    """The policy's sentiment and category example phrases, embedded once."""

    def __init__(self, rules: TextRules, embed: Callable[[Sequence[str]], Array]) -> None:
        examples = [(c.name, p) for c in rules.categories for ps in c.examples.values() for p in ps]
        self._categories = [name for name, _ in examples]
        self._category_vectors = embed([p for _, p in examples])
        moods = [
            (label, p)
            for label, per in rules.sentiment.examples.items()
            for ps in per.values()
            for p in ps
        ]
        labels = np.array([label for label, _ in moods])
        self._masks = [labels == label for label in LABELS]
        self._mood_vectors = embed([p for _, p in moods])

    def nearness(self, vector: Array, nearest: int) -> Nearness:
        moods = (-1.0, -1.0, -1.0)
        if any(m.any() for m in self._masks):
            sims = self._mood_vectors @ vector
            moods = tuple(  # type: ignore[assignment]
                float(np.sort(sims[m])[-nearest:].mean()) if m.any() else -1.0 for m in self._masks
            )
        categories: dict[str, float] = {}
        if self._categories:
            sims = self._category_vectors @ vector
            for name, sim in zip(self._categories, sims.tolist(), strict=True):
                categories[name] = max(categories.get(name, -1.0), sim)
        return Nearness(moods, categories)


def combine(e: Evidence, near: Nearness, rules: TextRules, k: Calibration) -> Analysis:
    """The combined reading of one text from its lexicon evidence and its nearness."""
    scores = dict(near.categories)
    for name, n in e.hits.items():
        scores[name] = scores.get(name, 0.0) + k.pattern_bonus * n
    best = max(scores, key=scores.__getitem__) if scores else None
    confidence = min(1.0, max(0.0, scores[best])) if best else 0.0
    # near a failure's examples: a complaint even in words the lexicon finds neutral; not
    # when the text names the failure only to deny it ("not late at all, thanks" is near
    # "late" to the embedding, which does not read negation)
    failure = bool(e.hits or not e.negated) and bool(near.categories)
    score, reading = e.sentiment, e.sentiment
    if near.moods[0] > -1.0 or near.moods[2] > -1.0:
        p = np.exp((np.array(near.moods) - max(near.moods)) / k.temperature)
        negative, neutral, positive = (p / p.sum()).tolist()
        reading = reading * (1 - k.neutral_pull * neutral) + k.mood_weight * (positive - negative)
        score += k.lean_weight * (near.lean - k.lean_center)
    if failure:
        reading -= k.complaint_weight * max(0.0, near.failure - k.complaint_from)
        score -= k.failure_weight * (near.failure - k.failure_center)
    reading = max(-1.0, min(1.0, reading))
    label = label_for(reading, rules.sentiment)
    if best is not None and not e.hits:
        if reading > 0 or e.negated or (confidence < k.category_threshold and label != "negative"):
            best, confidence = None, 0.0  # praise, or too far from any failure
    failure_type = rules.category(best).failure_type if best else None
    result = analysis(
        e.language,
        max(-1.0, min(1.0, score)),
        e.cues,
        (best, confidence, failure_type, confidence),
        rules,
    )
    return result if result.label == label else replace(result, label=label)
