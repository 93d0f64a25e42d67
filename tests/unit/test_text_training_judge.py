"""Judging a new head on the held-out part (`adapters/text/training.py`): AUC, recall,
confusion by category, and the rule that installs only what is better."""

from __future__ import annotations

import pytest

pytest.importorskip("numpy")

from tests.helpers import T0

from makegood.adapters.text.training import NONE, Scores, auc, beats, scores
from makegood.domain.text import CUES, Analysis
from makegood.domain.text_training import Message, Pair


def read(sentiment: float, label: str, category: str | None = None) -> Analysis:
    return Analysis("en", sentiment, label, dict.fromkeys(CUES, False), category=category)


def pair(mood: str | None, category: str | None = None) -> Pair:
    return Pair(Message("m", "c", T0, "text"), mood, category)


def judged(auc_value: float | None, recall: float | None) -> Scores:
    return Scores(50, 10, 40, auc_value, None, 10, recall)


def test_auc_counts_ties_as_half() -> None:
    assert auc([0.9, 0.8, 0.1], [True, True, False]) == 1.0
    assert auc([0.1, 0.95, 0.9], [True, True, False]) == 0.5
    assert auc([0.5, 0.5], [True, False]) == 0.5
    assert auc([0.5, 0.4], [True, True]) is None


def test_scores_of_a_reader_on_the_held_out_part() -> None:
    analyses = [
        read(-0.8, "negative", "late_delivery"),
        read(-0.2, "negative", None),
        read(0.6, "positive"),
        read(0.1, "neutral", "late_delivery"),
    ]
    truth = [
        pair("negative", "late_delivery"),
        pair("negative", "missing_item"),
        pair("positive"),
        pair(None, "missing_item"),
    ]
    s = scores(analyses, truth)
    assert (s.texts, s.rated, s.unhappy, s.auc) == (4, 3, 2, 1.0)
    assert s.macro_recall == 1.0
    assert s.confusion == {
        "late_delivery": {"late_delivery": 1},
        "missing_item": {NONE: 1, "late_delivery": 1},
    }
    assert s.categorised == 3
    assert s.category_recall == pytest.approx(0.5)  # (1/1 + 0/2) / 2
    assert s.by_language == {"en": {"rated": 3, "auc": 1.0}}


def test_a_head_is_installed_only_when_better_and_never_worse() -> None:
    assert beats(judged(0.9, 0.6), judged(0.8, 0.6))[0]
    assert beats(judged(0.9, None), judged(0.8, 0.7))[0]  # judged on what both have
    worse = beats(judged(0.95, 0.5), judged(0.8, 0.6))
    assert (
        not worse[0] and "worse" in worse[1] and "category_recall 0.500 against 0.600" in worse[1]
    )
    same = beats(judged(0.8, 0.6), judged(0.8, 0.6))
    assert not same[0] and "no better" in same[1]
    nothing = beats(judged(None, None), judged(0.8, None))
    assert not nothing[0] and "nothing on the held-out part" in nothing[1]
