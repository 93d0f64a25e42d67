"""The embedding tier (extra ``makegood[text]``): MiniLM sentence embeddings on top of the
lexicon tier's reading.

Without training data it is the combined tier (`adapters/text/combined.py`): the lexicon's
reading and the text's nearness to the policy's example phrases added up. With a head trained
on the business's own messages (`makegood text train`, then ``text.head`` in the policy), the
head decides both. Cues always
come from the policy's patterns. numpy, tokenizers and safetensors are imported with this
module, never by the base install.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from makegood.adapters.text.combined import Calibration, Prototypes, combine
from makegood.adapters.text.head import Heads, LinearHead
from makegood.adapters.text.lexicon import LexiconAnalyzer
from makegood.adapters.text.minilm import MiniLM
from makegood.adapters.text.scoring import Evidence, analysis
from makegood.domain.errors import MakegoodError
from makegood.domain.text import CUES, LABELS, Analysis, TextRules, excerpt

Array = Any
# Mentions and links carry no meaning and cost tokens, the embedding's whole cost.
SHARES = 3  # the lexicon's shares of positive, negative and neutral words
_NOISE = re.compile(r"@\w+|https?://\S+|www\.\S+")


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
        self.prototypes = Prototypes(rules, self.embed)

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
        """The heads' input: the embedding and the lexicon tier's reading of each text (its
        scores, its shares of positive, negative and neutral words, the cues, which
        categories' patterns matched)."""
        evidence = evidence or [self._lexicon.evidence(t) for t in texts]
        extra = np.array(
            [
                [
                    e.lexicon,
                    e.sentiment,
                    *e.shares,
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
        """The combined reading with no training (`adapters/text/combined.py`)."""
        k = self.calibration
        return combine(e, self.prototypes.nearness(vector, k.nearest), self.rules, k)

    def _with_heads(
        self, texts: Sequence[str], vectors: Array, evidence: Sequence[Evidence], heads: Heads
    ) -> list[Analysis]:
        features = self.features(texts, vectors, evidence)
        width = np.asarray(vectors).shape[1]  # the embedding's columns come first
        moods = kinds = None
        if heads.sentiment:
            moods = heads.sentiment.probabilities(_for(heads.sentiment, features, width))
        if heads.category:
            kinds = heads.category.probabilities(_for(heads.category, features, width))
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


def _for(head: LinearHead, features: Array, width: int) -> Array:
    """`features` as `head` was trained on them: a head saved before the lexicon's shares
    were among its features reads them without those three columns (`width`: the
    embedding's columns, which come first)."""
    if head.mean.shape[0] == features.shape[1] - SHARES:
        start = width + 2  # after the embedding, the lexicon's score and the sentiment
        return np.delete(features, np.s_[start : start + SHARES], axis=1)
    if head.mean.shape[0] != features.shape[1]:
        raise MakegoodError(
            f"the text head reads {head.mean.shape[0]} features, this version gives "
            f"{features.shape[1]}: train it again (makegood text train)"
        )
    return features


def _stamp(path: Path | None) -> tuple[int, int] | None:
    try:
        info = path.stat() if path else None
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size) if info else None
