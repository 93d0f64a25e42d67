"""The head's L2 strength is chosen by inner cross-validation on the rows it is fitted on."""

from __future__ import annotations

import pytest

np = pytest.importorskip("numpy")

from makegood.adapters.text.head import (  # noqa: E402
    MIN_INNER,
    PENALTIES,
    choose_penalty,
    fit,
    penalty,
)


def test_labels_that_are_noise_get_the_strongest_penalty() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(240, 40)).astype(np.float32)
    labels = [str(v) for v in rng.integers(0, 3, 240)]
    assert choose_penalty(x, labels, steps=100) == max(PENALTIES)


def test_labels_the_features_tell_get_a_weaker_one() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(240, 40)).astype(np.float32)
    labels = ["a" if v > 0 else "b" for v in x[:, 0] + 0.1 * x[:, 1]]
    assert choose_penalty(x, labels, steps=100) < max(PENALTIES)


def test_too_few_rows_fall_back_to_the_rule_by_size() -> None:
    rng = np.random.default_rng(3)
    n = MIN_INNER - 1
    x = rng.normal(size=(n, 8)).astype(np.float32)
    labels = ["a", "b"] * (n // 2) + ["a"] * (n % 2)
    assert choose_penalty(x, labels) == penalty(n)
    rare = ["a"] * (MIN_INNER + 8) + ["b", "b"]  # a class with fewer rows than folds
    x = rng.normal(size=(len(rare), 8)).astype(np.float32)
    assert choose_penalty(x, rare) == penalty(len(rare))


def test_fit_without_a_strength_chooses_one_and_is_deterministic() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(120, 10)).astype(np.float32)
    labels = ["a" if v > 0 else "b" for v in x[:, 0]]
    one, two = fit(x, labels, steps=60), fit(x, labels, steps=60)
    assert np.array_equal(one.weights, two.weights)
    read = one.probabilities(x).argmax(axis=1)
    assert (read == np.array([one.classes.index(c) for c in labels])).mean() > 0.9
