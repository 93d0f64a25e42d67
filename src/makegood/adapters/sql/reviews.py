"""A business's own ratings in the report: reviews and NPS answers it sends as events, not the
answers to makegood's follow-ups. They show what failures cost in satisfaction: customers with
and without a failure, late orders against orders on time, and by failure category.

A rating is a ``survey.answered`` without a ``case_id`` (kind ``csat`` 1-5 or ``ces`` 1-7), or
any event the policy declares under ``reviews:`` with its own scale. Scores on different scales
are compared as "satisfied" (at or above the scale's threshold); means are per scale. A rating
that names an order (``subject_id``) is about that order; one that does not is about the
customer, and counts the failures before it. A failure detected from a rating itself (a policy
may treat a low review as a failure) is not a failure the rating reacts to, and is left out.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from makegood.domain import stats
from makegood.domain.policy import ReviewScale

FOLLOW_UP = "survey.answered"


@dataclass(frozen=True)
class Rating:
    event_id: str
    customer_id: str
    subject_id: str | None
    at: datetime
    scale: ReviewScale
    score: float


def builtin_scales(satisfied_at: int, easy_at: int) -> tuple[ReviewScale, ...]:
    return (
        ReviewScale("csat", FOLLOW_UP, 1, 5, satisfied_at),
        ReviewScale("ces", FOLLOW_UP, 1, 7, easy_at),
    )


def scale_of(
    scales: Sequence[ReviewScale], type_: str, attributes: Mapping[str, Any]
) -> ReviewScale | None:
    """The first scale declared for the event's type and kind; an event without a kind takes
    its type's first scale (``csat`` for ``survey.answered``)."""
    kind = attributes.get("kind")
    for scale in scales:
        if scale.type == type_ and (kind is None or scale.kind == kind):
            return scale
    return None


def score_of(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def review_figures(
    ratings: Iterable[Rating],
    failures: Sequence[Any],
    late_categories: Iterable[str],
    unread: int,
) -> dict[str, Any]:
    """The section's figures. `failures` are rows with customer_id, subject_id, category,
    occurred_at and evidence, sorted by time."""
    listed = list(ratings)
    late = set(late_categories)
    own = {r.event_id for r in listed}
    by_subject: dict[str, set[str]] = defaultdict(set)
    by_customer: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for f in failures:
        if (f.evidence or {}).get("event_id") in own:
            continue
        if f.subject_id:
            by_subject[f.subject_id].add(f.category)
        by_customer[f.customer_id].append((f.occurred_at, f.category))
    scores: dict[ReviewScale, list[float]] = defaultdict(list)
    groups: dict[str, list[bool]] = defaultdict(list)
    categories: dict[str, list[bool]] = defaultdict(list)
    for r in listed:
        scores[r.scale].append(r.score)
        satisfied = r.score >= r.scale.satisfied_at
        if r.subject_id:
            failed = by_subject.get(r.subject_id, set())
            groups["late" if failed & late else "on_time"].append(satisfied)
        else:
            failed = {c for at, c in by_customer.get(r.customer_id, ()) if at <= r.at}
        groups["failed" if failed else "not_failed"].append(satisfied)
        for category in failed:
            categories[category].append(satisfied)
    return {
        "ratings": sum(len(v) for v in scores.values()),
        "unread": unread,
        "scales": [
            {
                "type": scale.type,
                "kind": scale.kind,
                "low": scale.low,
                "high": scale.high,
                "satisfied_at": scale.satisfied_at,
                "mean": round(statistics.fmean(values), 2),
                "satisfied": _share(v >= scale.satisfied_at for v in values),
            }
            for scale, values in scores.items()
        ],
        "groups": {name: _share(groups[name]) for name in GROUPS},
        "comparisons": [
            _compare(groups, a, b) for a, b in (("failed", "not_failed"), ("late", "on_time"))
        ],
        "by_category": sorted(
            (
                {"category": name, "satisfied": _share(values)}
                for name, values in categories.items()
            ),
            key=lambda row: (-row["satisfied"]["n"], row["category"]),
        ),
    }


GROUPS = ("failed", "not_failed", "late", "on_time")


def _share(values: Iterable[bool]) -> dict[str, Any]:
    listed = list(values)
    return stats.proportion(sum(listed), len(listed)).as_dict()


def _compare(groups: Mapping[str, list[bool]], a: str, b: str) -> dict[str, Any]:
    x, y = groups.get(a, []), groups.get(b, [])
    diff = stats.difference(sum(x), len(x), sum(y), len(y))
    return {"a": a, "b": b, "difference": diff.as_dict() if diff else None}


__all__ = ["Rating", "builtin_scales", "review_figures", "scale_of", "score_of"]
