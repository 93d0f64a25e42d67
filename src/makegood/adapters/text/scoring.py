"""Turning evidence into an `Analysis`: shared by the lexicon and embedding tiers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from makegood.domain.text import Analysis, SentimentRules, TextRules, label_for

# Cues that make a text a complaint whatever its words' polarity; urgency alone does not.
NEGATIVE_CUES = ("anger", "churn_threat", "legal_threat", "profanity", "repeated_failure")


@dataclass(frozen=True)
class Evidence:
    """What the lexicon tier reads in one text, before any embedding."""

    language: str
    cues: Mapping[str, bool]
    hits: Mapping[str, int]  # pattern matches per category
    lexicon: float  # the lexicon's own score
    sentiment: float  # the lexicon's score pulled down by complaint evidence
    negated: int = 0  # category pattern matches a negation cancelled ("not late")
    # the lexicon's shares of the text's words: positive, negative, neutral (VADER's and
    # LeIA's ``pos``, ``neg``, ``neu``); one strong word and one weak word among twenty
    # differ here even where the compound score is the same
    shares: tuple[float, float, float] = (0.0, 0.0, 1.0)


def adjust_sentiment(
    base: float,
    cues: Mapping[str, bool],
    category_hits: int,
    rules: SentimentRules,
    denied: int = 0,
) -> float:
    """Pull the lexicon's score down by the complaint evidence, within [-1, 1].

    Evidence is each pattern naming a failure ("on hold for an hour", "nobody could help")
    and each negative cue: lexicons miss complaints that use no negative word, and read
    "help" or "gosto" as praise even after "nobody" or "sem". A text that names a failure only
    to deny it ("no delay", "sem atraso": `denied` matches, no other evidence) is pushed up as
    much: the lexicons read the failure's word as negative whatever comes before it.
    """
    evidence = category_hits + sum(1 for c in NEGATIVE_CUES if cues.get(c))
    if not evidence and denied:
        score = base + rules.evidence_weight * min(denied, rules.max_evidence)
    else:
        score = base - rules.evidence_weight * min(evidence, rules.max_evidence)
    return max(-1.0, min(1.0, score))


def category_from_hits(
    hits: Mapping[str, int], rules: TextRules
) -> tuple[str | None, float, str | None, float]:
    """(category, confidence, failure type, confidence) from pattern hits per category.

    More hits make a category surer, hits on rival categories make it less sure; the type's
    confidence adds up the hits of every category of that type.
    """
    if not hits:
        return None, 0.0, None, 0.0
    total = sum(hits.values())
    best = max(hits, key=lambda name: (hits[name], -_order(rules, name)))
    failure_type = rules.category(best).failure_type
    type_hits = sum(
        n for name, n in hits.items() if rules.category(name).failure_type == failure_type
    )
    return (
        best,
        _sure(hits[best]) * hits[best] / total,
        failure_type,
        _sure(type_hits) * type_hits / total,
    )


def analysis(
    language: str,
    sentiment: float,
    cues: Mapping[str, bool],
    category: tuple[str | None, float, str | None, float],
    rules: TextRules,
) -> Analysis:
    name, category_confidence, failure_type, type_confidence = category
    return Analysis(
        language=language,
        sentiment=round(sentiment, 4),
        label=label_for(sentiment, rules.sentiment),
        cues=cues,
        failure_type=failure_type,
        category=name,
        type_confidence=round(type_confidence, 4),
        category_confidence=round(category_confidence, 4),
    )


def _sure(n: int) -> float:
    return min(0.95, 0.45 + 0.15 * n)


def _order(rules: TextRules, name: str) -> int:
    # Ties go to the category listed first in the policy.
    for i, c in enumerate(rules.categories):
        if c.name == name:
            return i
    return len(rules.categories)
