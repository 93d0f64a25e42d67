"""The pure part of text analysis: the Analysis value and validation of the `text:` rules."""

from __future__ import annotations

from typing import Any

import pytest

from makegood.adapters.text.rules import default_rules_mapping, load_default_rules
from makegood.domain.errors import PolicyError
from makegood.domain.text import (
    CUES,
    Analysis,
    SentimentRules,
    fold,
    label_for,
    text_rules_from_mapping,
)

MAKEGOOD_CATEGORIES = {
    "late_delivery": "process",
    "missing_item": "process",
    "damaged_item": "product",
    "wrong_item": "process",
    "cancelled_order": "process",
    "rude_agent": "people",
    "unhelpful_support": "people",
    "billing_error": "policy",
    "refund_policy": "policy",
    "no_response": "communication",
    "misinformation": "communication",
    "app_outage": "product",
    "food_quality": "product",
}


def test_as_context_gives_the_names_policy_expressions_use() -> None:
    cues = dict.fromkeys(CUES, False) | {"churn_threat": True}
    analysis = Analysis("en", -0.8, "negative", cues, "process", "late_delivery", 0.7, 0.6)
    context = analysis.as_context()
    assert context == {
        "language": "en",
        "sentiment": -0.8,
        "label": "negative",
        "cues": cues,
        "failure_type": "process",
        "category": "late_delivery",
        "category_confidence": 0.6,
    }
    assert context["cues"] is not cues  # a copy: an expression cannot change the analysis
    assert analysis.to_dict()["type_confidence"] == 0.7


def test_shipped_rules_define_every_makegood_category_with_its_type() -> None:
    rules = load_default_rules()
    types = {c.name: c.failure_type for c in rules.categories}
    assert MAKEGOOD_CATEGORIES.items() <= types.items()
    for category in rules.categories:
        assert {"en", "pt"} <= set(category.patterns), category.name
        assert {"en", "pt"} <= set(category.examples), category.name
    for cue in CUES:
        assert {"en", "pt"} <= set(rules.cues[cue]), cue


def test_fold_lowers_and_strips_accents() -> None:
    assert fold("Péssimo ATENDIMENTO, não chegou") == "pessimo atendimento, nao chegou"
    assert fold("plain ascii") == "plain ascii"


def test_labels_follow_the_thresholds() -> None:
    rules = SentimentRules(negative_below=-0.2, positive_above=0.3)
    assert label_for(-0.2, rules) == "negative"
    assert label_for(0.0, rules) == "neutral"
    assert label_for(0.3, rules) == "positive"


def _with(path: list[str], value: Any) -> dict[str, Any]:
    data = default_rules_mapping()
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        (["cues", "grumpiness"], {"en": ["grr"]}, "text.cues.grumpiness"),
        (["cues", "anger", "en"], ["ok", "(unclosed"], "text.cues.anger.en[1]"),
        (["cues", "anger", "english"], ["x"], "text.cues.anger.english"),
        (["cues", "anger", "en"], "not a list", "text.cues.anger.en"),
        (
            ["categories", "late_delivery", "failure_type"],
            "logistics",
            "text.categories.late_delivery.failure_type",
        ),
        (
            ["categories", "Bad Name"],
            {"failure_type": "process", "patterns": {"en": ["x"]}},
            "text.categories.Bad Name",
        ),
        (["categories", "empty"], {"failure_type": "process"}, "text.categories.empty"),
        (["categories", "late_delivery", "colour"], "red", "text.categories.late_delivery.colour"),
        (["sentiment", "negative_below"], 0.5, "text.sentiment.negative_below"),
        (["sentiment", "evidence_weight"], "a lot", "text.sentiment.evidence_weight"),
        (["head"], 3, "text.head"),
    ],
)
def test_a_bad_entry_is_named_by_its_dotted_path(path: list[str], value: Any, where: str) -> None:
    with pytest.raises(PolicyError) as caught:
        text_rules_from_mapping(_with(path, value))
    assert caught.value.path == where


def test_a_business_category_needs_only_a_type_and_examples() -> None:
    rules = text_rules_from_mapping(
        _with(
            ["categories", "noisy_room"],
            {
                "failure_type": "product",
                "examples": {"en": ["the room was so noisy I could not sleep"]},
            },
        )
    )
    assert rules.category("noisy_room").failure_type == "product"
    assert rules.category("noisy_room").patterns == {}
