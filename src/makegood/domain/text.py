"""What a customer's text says: the `Analysis` value and the `TextRules` that a policy defines.

Pure: no I/O. The rules come from the ``text:`` section of the policy (already parsed into a
mapping); `text_rules_from_mapping` validates it and names the dotted path of a bad entry.
Patterns are regular expressions matched against `fold(text)`: lower case, accents removed,
so ``pessimo`` matches "Péssimo" and a rule need not list every spelling.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from makegood.domain.errors import PolicyError
from makegood.domain.expr_lexer import parse_duration

CUES = ("anger", "urgency", "churn_threat", "legal_threat", "profanity", "repeated_failure")
FAILURE_TYPES = ("process", "people", "product", "policy", "communication")
LABELS = ("negative", "neutral", "positive")
# What is analysed of a long text: its first and last characters. The lexicons' checks are
# quadratic in the number of words (vaderSentiment's idiom check: 105k characters take 5 s), so
# the bound keeps one message at a few milliseconds whatever its length.
EXCERPT_HEAD = 2000
EXCERPT_TAIL = 2000
EXCERPT_JOIN = "\n\n"
MAX_ANALYSED = EXCERPT_HEAD + len(EXCERPT_JOIN) + EXCERPT_TAIL
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_LOCALE = re.compile(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{2,8})*$")


@dataclass(frozen=True)
class Analysis:
    """The reading of one text. Confidences are in [0, 1]; 0 when nothing was found."""

    language: str
    sentiment: float
    label: str
    cues: Mapping[str, bool]
    failure_type: str | None = None
    category: str | None = None
    type_confidence: float = 0.0
    category_confidence: float = 0.0

    def as_context(self) -> dict[str, Any]:
        """The names a policy expression sees (``sentiment <= -0.5``, ``cues.churn_threat``)."""
        return {
            "language": self.language,
            "sentiment": self.sentiment,
            "label": self.label,
            "cues": dict(self.cues),
            "failure_type": self.failure_type,
            "category": self.category,
            "category_confidence": self.category_confidence,
        }

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready."""
        return {**self.as_context(), "type_confidence": self.type_confidence}


@dataclass(frozen=True)
class Category:
    """A kind of failure customers write about, defined by patterns and example phrases."""

    name: str
    failure_type: str
    patterns: Mapping[str, tuple[str, ...]]
    examples: Mapping[str, tuple[str, ...]]
    # A match right after a negation ("not late", "sem atraso") is no evidence; False for
    # categories named by what the customer did not get ("no refund", "nenhum retorno").
    negatable: bool = True


@dataclass(frozen=True)
class SentimentRules:
    """Label thresholds, and how much complaint evidence pulls the score down.

    A text naming a failure ("my order is an hour late") is a complaint even when it holds no
    negative word; ``evidence_weight`` is subtracted once per piece of evidence (a category
    pattern's match, a negative cue), at most ``max_evidence`` times.
    """

    negative_below: float = -0.05
    positive_above: float = 0.05
    evidence_weight: float = 0.25
    max_evidence: int = 2
    # label -> language -> phrases: the embedding tier's zero-shot sentiment prototypes
    examples: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingRules:
    """How `makegood text train --from-store` learns from outcomes (``text.training``).

    `every`: retrain on this schedule inside ``makegood serve`` (None: only when asked).
    `within`: a rating counts for the messages of the `within` before it.
    `held_out`: the share of messages kept aside to judge the new head against the current tier.
    `min_texts`: labelled messages a language needs for a head of its own (fewer: the head
    pooled over all languages reads it).
    """

    every: timedelta | None = None
    within: timedelta = timedelta(days=14)
    held_out: float = 0.2
    min_texts: int = 50


@dataclass(frozen=True)
class TextRules:
    cues: Mapping[str, Mapping[str, tuple[str, ...]]]
    categories: tuple[Category, ...]
    sentiment: SentimentRules = field(default_factory=SentimentRules)
    head: str | None = None
    training: TrainingRules = field(default_factory=TrainingRules)

    def category(self, name: str) -> Category:
        for c in self.categories:
            if c.name == name:
                return c
        raise KeyError(name)


def fold(text: str) -> str:
    """Lower case without accents: the form patterns are matched against."""
    text = text.lower()
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def excerpt(text: str) -> str:
    """What is analysed of `text`: all of it up to `MAX_ANALYSED` characters, else its first
    `EXCERPT_HEAD` and last `EXCERPT_TAIL` characters (a complaint says what went wrong at the
    start and what the customer wants at the end; the middle of a pasted log adds nothing)."""
    if len(text) <= MAX_ANALYSED:
        return text
    return text[:EXCERPT_HEAD] + EXCERPT_JOIN + text[-EXCERPT_TAIL:]


def language_of(locale: object) -> str | None:
    """The ISO 639 language of a locale (``pt_BR``, ``pt-BR``, ``PT`` -> ``pt``), or None when
    `locale` is empty, ``und`` or not a locale at all."""
    if not isinstance(locale, str):
        return None
    found = _LOCALE.match(locale.strip())
    language = found.group(1).lower() if found else None
    return None if language in (None, "und") else language


def written_in(analysis: Mapping[str, Any] | None) -> str | None:
    """The language an analysed text was written in, or None when the analysis could not tell."""
    return language_of(analysis.get("language")) if analysis else None


def label_for(score: float, rules: SentimentRules) -> str:
    if score <= rules.negative_below:
        return "negative"
    if score >= rules.positive_above:
        return "positive"
    return "neutral"


def text_rules_from_mapping(data: Mapping[str, Any], path: str = "text") -> TextRules:
    """Validate the ``text:`` section of a policy. Raises `PolicyError` naming the bad entry."""
    _require_mapping(data, path)
    _only(data, path, {"cues", "categories", "sentiment", "head", "training"})
    cues_data = data.get("cues", {})
    _require_mapping(cues_data, f"{path}.cues")
    cues: dict[str, dict[str, tuple[str, ...]]] = {}
    for name, per_language in cues_data.items():
        if name not in CUES:
            raise PolicyError(
                f"unknown cue {name!r}; expected one of {', '.join(CUES)}",
                path=f"{path}.cues.{name}",
            )
        cues[name] = _per_language(per_language, f"{path}.cues.{name}", regex=True)
    categories_data = data.get("categories", {})
    _require_mapping(categories_data, f"{path}.categories")
    categories = tuple(
        _category(str(name), spec, f"{path}.categories.{name}")
        for name, spec in categories_data.items()
    )
    head = data.get("head")
    if head is not None and not isinstance(head, str):
        raise PolicyError("must be a file path", path=f"{path}.head")
    return TextRules(
        cues=cues,
        categories=categories,
        sentiment=_sentiment(data.get("sentiment", {}), f"{path}.sentiment"),
        head=head,
        training=_training(data.get("training", {}), f"{path}.training"),
    )


def _training(data: Any, path: str) -> TrainingRules:
    _require_mapping(data, path)
    _only(data, path, {"every", "within", "held_out", "min_texts"})
    default = TrainingRules()
    durations: dict[str, timedelta | None] = {"every": None, "within": default.within}
    for key in durations:
        value = data.get(key)
        if value is None:
            continue
        try:
            durations[key] = parse_duration(value) if isinstance(value, str) else None
        except ValueError:
            durations[key] = None
        if not durations[key]:
            raise PolicyError("must be a duration such as 7d or 12h", path=f"{path}.{key}")
    held_out = data.get("held_out", default.held_out)
    if isinstance(held_out, bool) or not isinstance(held_out, int | float):
        raise PolicyError("must be a number between 0.05 and 0.5", path=f"{path}.held_out")
    if not 0.05 <= held_out <= 0.5:
        raise PolicyError("must be a number between 0.05 and 0.5", path=f"{path}.held_out")
    min_texts = data.get("min_texts", default.min_texts)
    if isinstance(min_texts, bool) or not isinstance(min_texts, int) or min_texts < 10:
        raise PolicyError("must be a whole number >= 10", path=f"{path}.min_texts")
    within = durations["within"] or default.within
    return TrainingRules(durations["every"], within, float(held_out), min_texts)


def _category(name: str, spec: Any, path: str) -> Category:
    if not _NAME.match(name):
        raise PolicyError("a category name is lower_snake_case", path=path)
    _require_mapping(spec, path)
    _only(spec, path, {"failure_type", "patterns", "examples", "negatable"})
    failure_type = spec.get("failure_type")
    if failure_type not in FAILURE_TYPES:
        raise PolicyError(
            f"failure_type must be one of {', '.join(FAILURE_TYPES)}", path=f"{path}.failure_type"
        )
    patterns = _per_language(spec.get("patterns", {}), f"{path}.patterns", regex=True)
    examples = _per_language(spec.get("examples", {}), f"{path}.examples", regex=False)
    if not patterns and not examples:
        raise PolicyError("a category needs patterns or examples", path=path)
    negatable = spec.get("negatable", True)
    if not isinstance(negatable, bool):
        raise PolicyError("must be true or false", path=f"{path}.negatable")
    return Category(name, failure_type, patterns, examples, negatable)


def _sentiment(data: Any, path: str) -> SentimentRules:
    _require_mapping(data, path)
    _only(
        data,
        path,
        {"negative_below", "positive_above", "evidence_weight", "max_evidence", "examples"},
    )
    default = SentimentRules()
    values: dict[str, float] = {}
    for key in ("negative_below", "positive_above", "evidence_weight"):
        value = data.get(key, getattr(default, key))
        if isinstance(value, bool) or not isinstance(value, int | float) or not -1 <= value <= 1:
            raise PolicyError("must be a number in [-1, 1]", path=f"{path}.{key}")
        values[key] = float(value)
    if values["negative_below"] >= values["positive_above"]:
        raise PolicyError("must be below positive_above", path=f"{path}.negative_below")
    max_evidence = data.get("max_evidence", default.max_evidence)
    if isinstance(max_evidence, bool) or not isinstance(max_evidence, int) or max_evidence < 0:
        raise PolicyError("must be a whole number >= 0", path=f"{path}.max_evidence")
    examples_data = data.get("examples", {})
    _require_mapping(examples_data, f"{path}.examples")
    examples = {}
    for label, per_language in examples_data.items():
        if label not in LABELS:
            raise PolicyError(
                f"a label is one of {', '.join(LABELS)}", path=f"{path}.examples.{label}"
            )
        examples[label] = _per_language(per_language, f"{path}.examples.{label}", regex=False)
    return SentimentRules(max_evidence=max_evidence, examples=examples, **values)


def _per_language(data: Any, path: str, *, regex: bool) -> dict[str, tuple[str, ...]]:
    _require_mapping(data, path)
    out: dict[str, tuple[str, ...]] = {}
    for language, items in data.items():
        where = f"{path}.{language}"
        if not isinstance(language, str) or not re.fullmatch(r"[a-z]{2}|any", language):
            raise PolicyError("a language is an ISO 639-1 code (en, pt) or 'any'", path=where)
        if not isinstance(items, Sequence) or isinstance(items, str):
            raise PolicyError("must be a list of strings", path=where)
        for i, item in enumerate(items):
            if not isinstance(item, str) or not item.strip():
                raise PolicyError("must be a non-empty string", path=f"{where}[{i}]")
            if regex:
                try:
                    re.compile(item)
                except re.error as exc:
                    raise PolicyError(
                        f"bad regular expression: {exc}", path=f"{where}[{i}]"
                    ) from None
        out[language] = tuple(items)
    return out


def _require_mapping(data: Any, path: str) -> None:
    if not isinstance(data, Mapping):
        raise PolicyError("must be a mapping", path=path)


def _only(data: Mapping[str, Any], path: str, allowed: set[str]) -> None:
    for key in data:
        if key not in allowed:
            raise PolicyError(
                f"unknown key; expected one of {', '.join(sorted(allowed))}", path=f"{path}.{key}"
            )
