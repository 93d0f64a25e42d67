"""The embedding tier (extra ``makegood[text]``): MiniLM sentence embeddings on top of the
lexicon tier's reading.

Without training data it is zero-shot: a text takes the category whose example phrases (in the
policy) it is nearest to, and its sentiment blends the lexicon's score with its nearness to the
policy's sentiment examples. With a head trained on the business's own messages
(`makegood text train`, then ``text.head`` in the policy), the head decides both. Cues always
come from the policy's patterns. numpy, tokenizers and safetensors are imported with this
module, never by the base install.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from makegood.adapters.text.head import Heads
from makegood.adapters.text.lexicon import LexiconAnalyzer
from makegood.adapters.text.minilm import MiniLM
from makegood.adapters.text.scoring import Evidence, analysis
from makegood.domain.errors import MakegoodError
from makegood.domain.text import CUES, LABELS, Analysis, TextRules, excerpt

Array = Any
# Mentions and links carry no meaning and cost tokens, the embedding's whole cost.
_NOISE = re.compile(r"@\w+|https?://\S+|www\.\S+")


@dataclass(frozen=True)
class Calibration:
    """How the combined tier (no head) adds up its readings. The defaults are chosen by
    bench/text_calibrate.py on messages written for it (bench/own_texts.py), never on the
    evaluation data; see docs/TEXT.md."""

    category_threshold: float = 0.3  # cosine to a category's nearest example, non-complaint
    pattern_bonus: float = 0.3  # added per pattern match of that category
    nearest: int = 3  # a text's nearness to a label: mean cosine to its closest examples
    temperature: float = 0.02  # softmax temperature over the three nearnesses
    mood_weight: float = 0.08  # how much the lean to positive or negative adds to the score
    neutral_pull: float = 0.9  # how much nearness to the neutral examples shrinks the score
    complaint_from: float = 0.3  # cosine to the nearest failure example above which ...
    complaint_weight: float = 0.5  # ... a text reads worse by this much per unit of cosine


class EmbeddingAnalyzer:
    """`TextAnalyzer` over MiniLM embeddings. `head_path` overrides the rules' ``head``."""

    def __init__(
        self,
        rules: TextRules,
        head_path: Path | None = None,
        *,
        encoder: MiniLM | None = None,
        lexicon: LexiconAnalyzer | None = None,
        calibration: Calibration | None = None,
    ) -> None:
        self.rules = rules
        self.calibration = calibration or Calibration()
        self._lexicon = lexicon or LexiconAnalyzer(rules)
        self._encoder = encoder or MiniLM()
        path = head_path or (Path(rules.head) if rules.head else None)
        self._head_file = path
        self._head_stamp = _stamp(path)
        self.heads = Heads.load(path) if path else None
        heads = [self.heads, *self.heads.languages.values()] if self.heads else []
        named = {c for h in heads if h.category for c in h.category.classes}
        if named:
            unknown = named - {c.name for c in rules.categories}
            if unknown:
                raise MakegoodError(
                    f"{path}: the head knows categories the policy does not "
                    f"define: {', '.join(sorted(unknown))}"
                )
        self.feature_categories = tuple(c.name for c in rules.categories)
        examples = [(c.name, p) for c in rules.categories for ps in c.examples.values() for p in ps]
        self._example_categories = [name for name, _ in examples]
        self._example_vectors = self.embed([p for _, p in examples])
        moods = [
            (label, p)
            for label, per in rules.sentiment.examples.items()
            for ps in per.values()
            for p in ps
        ]
        self._mood_labels = np.array([label for label, _ in moods])
        self._mood_vectors = self.embed([p for _, p in moods])

    @property
    def lexicon(self) -> LexiconAnalyzer:
        """The lexicon tier this tier reads evidence with."""
        return self._lexicon

    def embed(self, texts: Sequence[str]) -> Array:
        return self._encoder.encode([_NOISE.sub(" ", excerpt(t)).strip() for t in texts])

    def analyze(self, text: str, locale: str | None = None) -> Analysis:
        return self.analyze_many([text], [locale])[0]

    def analyze_many(
        self, texts: Sequence[str], locales: Sequence[str | None] | None = None
    ) -> list[Analysis]:
        self._reload()
        return self.analyze_embedded(texts, self.embed(texts), locales=locales)

    def _reload(self) -> None:
        """Read the head file again when a retraining replaced it (it is written whole, then
        moved into place); a file that cannot be read leaves the heads as they were."""
        stamp = _stamp(self._head_file)
        if stamp == self._head_stamp or self._head_file is None or stamp is None:
            return
        self._head_stamp = stamp
        try:
            self.heads = Heads.load(self._head_file)
        except MakegoodError:
            return

    def features(
        self, texts: Sequence[str], vectors: Array, evidence: Sequence[Evidence] | None = None
    ) -> Array:
        """The heads' input: the embedding and the lexicon tier's reading of each text."""
        evidence = evidence or [self._lexicon.evidence(t) for t in texts]
        extra = np.array(
            [
                [
                    e.lexicon,
                    e.sentiment,
                    *(float(e.cues[c]) for c in CUES),
                    *(float(e.hits.get(c, 0) > 0) for c in self.feature_categories),
                ]
                for e in evidence
            ],
            dtype=np.float32,
        ).reshape(len(texts), -1)
        return np.hstack([vectors, extra])

    def analyze_embedded(
        self,
        texts: Sequence[str],
        vectors: Array,
        heads: Heads | None = None,
        locales: Sequence[str | None] | None = None,
    ) -> list[Analysis]:
        """Analyses of texts already embedded with `embed` (lets a caller embed once)."""
        heads = heads or self.heads
        known = locales if locales is not None else [None] * len(texts)
        evidence = [self._lexicon.evidence(t, k) for t, k in zip(texts, known, strict=True)]
        if heads is None or not (heads.sentiment or heads.category or heads.languages):
            return [self._zero_shot(e, v) for e, v in zip(evidence, vectors, strict=True)]
        by_language: dict[str, list[int]] = {}
        for i, e in enumerate(evidence):
            own = e.language if e.language in heads.languages else ""
            by_language.setdefault(own, []).append(i)
        results: list[Analysis | None] = [None] * len(texts)
        for language, rows in by_language.items():
            chosen = heads.for_language(language)
            if not (chosen.sentiment or chosen.category):
                read = [self._zero_shot(evidence[i], vectors[i]) for i in rows]
            else:
                read = self._with_heads(
                    [texts[i] for i in rows], vectors[rows], [evidence[i] for i in rows], chosen
                )
            for i, a in zip(rows, read, strict=True):
                results[i] = a
        return [a for a in results if a is not None]

    def _zero_shot(self, e: Evidence, vector: Array) -> Analysis:
        """The combined reading with no training: the lexicon's score (already pulled down by
        the patterns' and cues' evidence) plus the text's nearness to the sentiment examples
        and to the complaint categories; the category from the patterns and the nearest
        examples together (a pattern match, negation-checked, outweighs nearness)."""
        k = self.calibration
        score = e.sentiment
        if len(self._mood_labels):
            sims = self._mood_vectors @ vector
            near = np.array(
                [
                    np.sort(sims[self._mood_labels == label])[-k.nearest:].mean()
                    if (self._mood_labels == label).any()
                    else -1.0
                    for label in LABELS
                ]
            )
            p = np.exp((near - near.max()) / k.temperature)
            negative, neutral, positive = (p / p.sum()).tolist()
            # nearer the neutral examples: the lexicon's reading counts less; the lean of the
            # text towards the positive or the negative examples adds to it
            score = score * (1 - k.neutral_pull * neutral) + k.mood_weight * (positive - negative)
        best, confidence, nearest = None, 0.0, 0.0
        if self._example_categories:
            sims = self._example_vectors @ vector
            scores: dict[str, float] = {}
            for name, sim in zip(self._example_categories, sims.tolist(), strict=True):
                scores[name] = max(scores.get(name, -1.0), sim)
            nearest = max(scores.values())
            for name, n in e.hits.items():
                scores[name] = scores.get(name, 0.0) + k.pattern_bonus * n
            best = max(scores, key=scores.__getitem__)
            confidence = min(1.0, max(0.0, scores[best]))
        # near a failure's examples: a complaint even in words the lexicon finds neutral; not
        # when the text names the failure only to deny it ("not late at all, thanks" is near
        # "late" to the embedding, which does not read negation)
        if e.hits or not e.negated:
            score -= k.complaint_weight * max(0.0, nearest - k.complaint_from)
        score = max(-1.0, min(1.0, score))
        complaint = score <= self.rules.sentiment.negative_below
        if best is not None and not e.hits:
            if score > 0 or e.negated or (confidence < k.category_threshold and not complaint):
                best, confidence = None, 0.0  # praise, or too far from any failure
        failure_type = self.rules.category(best).failure_type if best else None
        return analysis(
            e.language, score, e.cues, (best, confidence, failure_type, confidence), self.rules
        )

    def _with_heads(
        self, texts: Sequence[str], vectors: Array, evidence: Sequence[Evidence], heads: Heads
    ) -> list[Analysis]:
        features = self.features(texts, vectors, evidence)
        moods = heads.sentiment.probabilities(features) if heads.sentiment else None
        kinds = heads.category.probabilities(features) if heads.category else None
        results = []
        for i, e in enumerate(evidence):
            label, score = None, e.sentiment
            if moods is not None and heads.sentiment is not None:
                p = dict(zip(heads.sentiment.classes, moods[i].tolist(), strict=True))
                score = p.get("positive", 0.0) - p.get("negative", 0.0)
                label = max((c for c in heads.sentiment.classes if c in LABELS), key=p.__getitem__)
            category: tuple[str | None, float, str | None, float] = (None, 0.0, None, 0.0)
            if kinds is not None and heads.category is not None:
                p = dict(zip(heads.category.classes, kinds[i].tolist(), strict=True))
                best = max(p, key=p.__getitem__)
                # The head learnt categories from complaints only: a praise names no failure
                # unless a pattern says it does.
                positive = self.rules.sentiment.positive_above
                praise = label == "positive" if label else score >= positive
                if e.hits or not praise:
                    failure_type = self.rules.category(best).failure_type
                    same_type = sum(
                        v
                        for c, v in p.items()
                        if self.rules.category(c).failure_type == failure_type
                    )
                    category = (best, p[best], failure_type, same_type)
            result = analysis(e.language, score, e.cues, category, self.rules)
            if label is not None and label != result.label:
                result = replace(result, label=label)  # the head's most likely class
            results.append(result)
        return results


def _stamp(path: Path | None) -> tuple[int, int] | None:
    try:
        info = path.stat() if path else None
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size) if info else None
