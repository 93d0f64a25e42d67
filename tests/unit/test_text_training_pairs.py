"""Training pairs from outcomes (`domain/text_training.py`): which rating labels a message,
which failures label its category, the deterministic held-out split, and the policy keys."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from tests.helpers import T0

from makegood.domain.errors import PolicyError
from makegood.domain.text import TrainingRules, text_rules_from_mapping
from makegood.domain.text_training import (
    Message,
    Outcome,
    RaisedFailure,
    held_out,
    mood_of,
    split,
    training_pairs,
)

WEEK = timedelta(days=7)


def csat(customer: str, days: float, score: int) -> Outcome:
    return Outcome(customer, T0 + timedelta(days=days), score, 1, 5, 4)


def message(id: str, customer: str = "c1", days: float = 0, text: str = "hello") -> Message:
    return Message(id, customer, T0 + timedelta(days=days), text)


def pairs(
    messages: list[Message], outcomes: list[Outcome], failures: tuple[RaisedFailure, ...] = ()
) -> dict[str, tuple[str | None, str | None]]:
    found = training_pairs(messages, outcomes, failures, within=WEEK, reopen_at_or_below=2)
    return {p.message.id: (p.mood, p.category) for p in found}


def test_the_first_rating_after_a_message_labels_it() -> None:
    messages = [message("m1", days=0), message("m2", days=3), message("m3", days=9)]
    outcomes = [csat("c1", 2, 1), csat("c1", 4, 5), csat("c1", -1, 3)]
    # m1 -> the rating two days later (1: unhappy); m2 -> the one a day later (5: happy);
    # m3 -> none within a week after it; the rating before m1 labels nothing
    assert pairs(messages, outcomes) == {"m1": ("negative", None), "m2": ("positive", None)}


def test_another_customers_rating_labels_nothing() -> None:
    assert pairs([message("m1", "c1")], [csat("c2", 1, 1)]) == {}


def test_the_threshold_is_the_policys_and_scales_with_the_range() -> None:
    assert [mood_of(csat("c", 0, s), 2) for s in range(1, 6)] == [
        "negative",
        "negative",
        "neutral",
        "positive",
        "positive",
    ]
    assert mood_of(csat("c", 0, 3), 3) == "negative"
    ten = Outcome("c", T0, 0, 0, 10, 7)  # 0-10: at or below 2.5 is unhappy (a quarter)
    assert [mood_of(Outcome("c", T0, s, 0, 10, 7), 2) for s in (2, 3, 6, 7)] == [
        "negative",
        "neutral",
        "neutral",
        "positive",
    ]
    assert mood_of(ten, 2) == "negative"


def test_a_category_comes_from_a_person_or_the_detector_never_from_the_text_read_back() -> None:
    messages = [message("m1"), message("m2"), message("m3"), message("m4")]
    failures = [
        RaisedFailure("m1", "late_delivery", read_from_text=True, confirmed=False),
        RaisedFailure("m2", "missing_item", read_from_text=True, confirmed=True),
        RaisedFailure("m3", "billing_error", read_from_text=False, confirmed=False),
        RaisedFailure("m4", "late_delivery", read_from_text=False, confirmed=False),
        RaisedFailure("m4", "wrong_item", read_from_text=True, confirmed=True),  # a person's word
    ]
    assert pairs(messages, [], tuple(failures)) == {
        "m2": (None, "missing_item"),
        "m3": (None, "billing_error"),
        "m4": (None, "wrong_item"),
    }


def test_an_empty_text_is_no_pair() -> None:
    assert pairs([message("m1", text="  ")], [csat("c1", 1, 1)]) == {}


def test_the_held_out_part_is_a_stable_share_of_the_ids() -> None:
    ids = [f"msg-{n}" for n in range(2000)]
    held = [i for i in ids if held_out(i, 0.2)]
    assert 0.17 < len(held) / len(ids) < 0.23
    assert held == [i for i in ids if held_out(i, 0.2)]  # the same every time
    assert set(held) <= {i for i in ids if held_out(i, 0.3)}  # a larger share keeps them
    found = training_pairs(
        [message(i) for i in ids[:50]],
        [csat("c1", 1, 1)],
        [],
        within=WEEK,
        reopen_at_or_below=2,
    )
    train, kept = split(found, 0.2)
    assert {p.message.id for p in kept} == {i for i in ids[:50] if held_out(i, 0.2)}
    assert len(train) + len(kept) == 50


def test_training_keys_in_the_policy() -> None:
    rules = text_rules_from_mapping(
        {"training": {"every": "7d", "within": "3d", "held_out": 0.25, "min_texts": 40}}
    )
    assert rules.training == TrainingRules(timedelta(days=7), timedelta(days=3), 0.25, 40)
    assert text_rules_from_mapping({}).training.every is None


@pytest.mark.parametrize(
    ("training", "path"),
    [
        ({"every": "weekly"}, "text.training.every"),
        ({"every": 7}, "text.training.every"),
        ({"within": "0s"}, "text.training.within"),
        ({"held_out": 0.9}, "text.training.held_out"),
        ({"held_out": True}, "text.training.held_out"),
        ({"min_texts": 3}, "text.training.min_texts"),
        ({"schedule": "7d"}, "text.training.schedule"),
    ],
)
def test_bad_training_keys_are_named(training: dict[str, object], path: str) -> None:
    with pytest.raises(PolicyError) as raised:
        text_rules_from_mapping({"training": training})
    assert raised.value.path == path


def test_the_rules_of_a_whole_policy_with_or_without_a_text_section(tmp_path: Path) -> None:
    from makegood.adapters.text.rules import load_default_rules, rules_of_policy

    policy = tmp_path / "policy.yaml"
    assert rules_of_policy(None, policy) == load_default_rules()  # no `text:`: the defaults
    rules = rules_of_policy({"head": "heads/h.npz", "training": {"every": "1d"}}, policy)
    assert rules.head == str((tmp_path / "heads" / "h.npz").resolve())
    assert rules.training.every == timedelta(days=1)
    assert rules.categories == load_default_rules().categories
