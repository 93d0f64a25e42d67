"""Small statistics for the recovery report: proportions with Wilson intervals, the difference of
two proportions with Newcombe's interval, the two-proportion z-test, percentiles, Pareto tables
and week-over-week change. Pure functions on counts; no numpy, no scipy.

References: Wilson (1927); Newcombe, "Interval estimation for the difference between independent
proportions", Statistics in Medicine 17 (1998), method 10.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Z95 = 1.959964  # the normal quantile for a two-sided 95 % interval


@dataclass(frozen=True)
class Proportion:
    """`successes` of `n`, the share and its Wilson 95 % interval (None when n == 0)."""

    successes: int
    n: int
    share: float | None
    low: float | None
    high: float | None

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "successes": self.successes,
            "n": self.n,
            "share": _r(self.share),
            "low": _r(self.low),
            "high": _r(self.high),
        }


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval of successes/n; None when there is no observation."""
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError(f"successes must lie in [0, {n}], got {successes}")
    p = successes / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    denominator = 1 + z2 / n
    return max(0.0, (centre - spread) / denominator), min(1.0, (centre + spread) / denominator)


def proportion(successes: int, n: int) -> Proportion:
    interval = wilson(successes, n)
    if interval is None:
        return Proportion(successes, n, None, None, None)
    return Proportion(successes, n, successes / n, *interval)


@dataclass(frozen=True)
class Difference:
    """p1 - p2 with Newcombe's hybrid score 95 % interval; `clear` when it excludes zero."""

    difference: float
    low: float
    high: float

    @property
    def clear(self) -> bool:
        return self.low > 0 or self.high < 0

    def as_dict(self) -> dict[str, float | bool]:
        return {
            "difference": _f(self.difference),
            "low": _f(self.low),
            "high": _f(self.high),
            "clear": self.clear,
        }


def difference(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> Difference | None:
    """Newcombe (1998) method 10 for p1 - p2; None when either group is empty."""
    first, second = wilson(x1, n1, z), wilson(x2, n2, z)
    if first is None or second is None:
        return None
    p1, p2 = x1 / n1, x2 / n2
    (l1, u1), (l2, u2) = first, second
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Difference(d, low, high)


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float] | None:
    """(z, two-sided p) of the pooled two-proportion z-test; None when undefined."""
    if n1 <= 0 or n2 <= 0:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return None
    z = (x1 / n1 - x2 / n2) / se
    return z, math.erfc(abs(z) / math.sqrt(2))


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th quantile (0..1) with linear interpolation between order statistics
    (the "inclusive" method: the median of [1, 2, 3, 4] is 2.5, its 0.9 quantile 3.7)."""
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def percentiles(values: Sequence[float]) -> dict[str, float | int | None]:
    return {
        "n": len(values),
        "p50": _r(percentile(values, 0.5)),
        "p90": _r(percentile(values, 0.9)),
    }


def pareto(counts: Mapping[str, int], limit: int | None = None) -> list[dict[str, object]]:
    """Rows by count (ties by key), each with its share and the cumulative share."""
    total = sum(counts.values())
    rows: list[dict[str, object]] = []
    cumulative = 0
    for key, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]:
        cumulative += count
        rows.append(
            {
                "key": key,
                "count": count,
                "share": _f(count / total),
                "cumulative": _f(cumulative / total),
            }
        )
    return rows


def change(current: int, previous: int) -> float | None:
    """Relative change from the previous period; None when there was nothing before."""
    return None if previous == 0 else _f((current - previous) / previous)


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _f(value: float) -> float:
    return round(value, 4)
