"""The report's statistics against values worked out by hand or published with the method."""

from __future__ import annotations

import math

import pytest

from makegood.domain import stats


def test_wilson_matches_published_values() -> None:
    # Newcombe (1998), Table I: 81/263 -> 0.2553 to 0.3662; 15/148 -> 0.0624 to 0.1605
    low, high = stats.wilson(81, 263)  # type: ignore[misc]
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    low, high = stats.wilson(15, 148)  # type: ignore[misc]
    assert (round(low, 4), round(high, 4)) == (0.0624, 0.1605)
    # 0/10 by hand: upper = z²/n / (1 + z²/n) = 0.38415/1.38415
    z2 = stats.Z95**2
    low, high = stats.wilson(0, 10)  # type: ignore[misc]
    assert low == 0.0
    assert high == pytest.approx((z2 / 10) / (1 + z2 / 10))
    # symmetric around one half
    low, high = stats.wilson(5, 10)  # type: ignore[misc]
    assert low + high == pytest.approx(1.0)
    assert round(low, 4) == 0.2366


def test_wilson_without_observations_is_none() -> None:
    assert stats.wilson(0, 0) is None
    assert stats.proportion(0, 0).share is None
    with pytest.raises(ValueError):
        stats.wilson(3, 2)


def test_newcombe_difference_matches_the_paper() -> None:
    # Newcombe (1998), Table II, method 10: 56/70 - 48/80 = 0.2000, 0.0524 to 0.3339
    d = stats.difference(56, 70, 48, 80)
    assert d is not None
    assert (round(d.difference, 4), round(d.low, 4), round(d.high, 4)) == (0.2, 0.0524, 0.3339)
    assert d.clear
    # 9/10 - 3/10: 0.6, 0.1705 to 0.8090
    d = stats.difference(9, 10, 3, 10)
    assert d is not None
    assert (round(d.low, 4), round(d.high, 4)) == (0.1705, 0.8090)
    # equal groups: the interval straddles zero, the data cannot tell
    d = stats.difference(5, 10, 5, 10)
    assert d is not None and not d.clear
    assert stats.difference(1, 0, 1, 2) is None


def test_two_proportion_z_by_hand() -> None:
    # 30/100 vs 20/100: pooled 0.25, se = sqrt(0.25*0.75*0.02) = 0.061237, z = 1.63299
    z, p = stats.two_proportion_z(30, 100, 20, 100)  # type: ignore[misc]
    assert z == pytest.approx(0.1 / math.sqrt(0.25 * 0.75 * 0.02))
    assert z == pytest.approx(1.63299, abs=1e-5)
    assert p == pytest.approx(0.10247, abs=1e-4)  # 2 * (1 - Phi(1.633))
    assert stats.two_proportion_z(0, 10, 0, 10) is None  # no variance
    assert stats.two_proportion_z(1, 0, 1, 1) is None


def test_percentiles_interpolate() -> None:
    assert stats.percentile([4, 1, 3, 2], 0.5) == 2.5
    assert stats.percentile([1, 2, 3, 4], 0.9) == pytest.approx(3.7)
    assert stats.percentile([7], 0.9) == 7
    assert stats.percentile([], 0.5) is None
    assert stats.percentiles([10, 20, 30, 40, 50]) == {"n": 5, "p50": 30, "p90": 46}


def test_pareto_orders_and_accumulates() -> None:
    rows = stats.pareto({"b": 2, "a": 6, "c": 2})
    assert [r["key"] for r in rows] == ["a", "b", "c"]
    assert [r["share"] for r in rows] == [0.6, 0.2, 0.2]
    assert [r["cumulative"] for r in rows] == [0.6, 0.8, 1.0]
    assert stats.pareto({"a": 1, "b": 1}, limit=1) == [
        {"key": "a", "count": 1, "share": 0.5, "cumulative": 0.5}
    ]


def test_change_week_over_week() -> None:
    assert stats.change(15, 10) == 0.5
    assert stats.change(5, 10) == -0.5
    assert stats.change(3, 0) is None
