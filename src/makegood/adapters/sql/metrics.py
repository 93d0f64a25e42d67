"""Recovery metrics (the "Learn" step) as one read model over the SQL store, shared by
`makegood report`, the API and the dashboard: the funnel, timings, satisfaction, spend against
budget, Pareto tables with the change from one window to the one before, hot spots, the paradox
check, experiments, and a business's own ratings (`reviews`).

Everything is read in a handful of queries and computed in Python (`makegood.domain.stats`), so
SQLite and PostgreSQL give the same figures. The result is JSON-ready: counts are ints, shares
floats rounded to 4 places, money strings with 2 decimals.
"""

from __future__ import annotations

import statistics
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import sqlalchemy as sa

from makegood.adapters.sql import schema as t
from makegood.adapters.sql.metric_window import Window, choose_window, given_window
from makegood.adapters.sql.reviews import (
    FOLLOW_UP,
    Rating,
    builtin_scales,
    review_figures,
    scale_of,
    score_of,
)
from makegood.domain import stats
from makegood.domain.event import parse_datetime
from makegood.domain.policy import ReviewScale

MIN_HOT_FAILURES = 5
Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class MetricSettings:
    """What the figures depend on besides the data (mostly from the policy)."""

    budget_per_day: Decimal = Decimal(2000)
    repurchase_window: timedelta = timedelta(days=30)
    satisfied_at: int = 4  # a CSAT answer (1-5) at or above this is a satisfied follow-up
    easy_at: int = 5  # a CES answer (1-7) at or above this is an easy recovery
    keys: tuple[str, ...] | None = None  # attribute keys for Pareto tables; None: discovered
    repurchase_types: tuple[str, ...] = ("purchase",)
    anchor_types: tuple[str, ...] = ("order.placed",)  # start the window of the never failed
    controls: Mapping[str, str] = field(default_factory=dict)  # experiment -> control arm
    pareto_limit: int = 15
    since: datetime | None = None  # the window compared with the one before; None: chosen
    until: datetime | None = None
    reviews: tuple[ReviewScale, ...] = ()  # a business's own rating scales (the policy's)
    late_categories: tuple[str, ...] = ("late_delivery",)  # failures that mean "late"

    def scales(self) -> tuple[ReviewScale, ...]:
        """Declared scales first, then the built-in csat and ces of ``survey.answered``."""
        return (*self.reviews, *builtin_scales(self.satisfied_at, self.easy_at))


def money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


@dataclass
class _Data:
    failures: list[Any]
    cases: dict[str, Any]
    granted: list[Any]
    pending: list[Any]
    tiers: dict[str, str]
    subjects: dict[str, tuple[dict[str, Any], datetime | None]]
    followed_up: set[str]
    answers: dict[str, dict[str, int]]  # case -> kind (csat, ces) -> score of its last answer
    ratings: list[Rating]  # a business's own ratings (not follow-up answers)
    unread_ratings: int  # ratings without a declared scale, or outside it
    purchases: dict[str, list[datetime]]  # customer -> sorted times
    anchors: dict[str, datetime]  # customer -> first anchor event
    spend_by_day: dict[str, Decimal]
    observed_until: datetime | None


def _load(c: sa.Connection, s: MetricSettings, progress: Progress) -> _Data:
    f, k, p, e = t.failures, t.cases, t.compensations, t.events
    failures = list(
        c.execute(
            sa.select(
                f.c.id,
                f.c.customer_id,
                f.c.subject_id,
                f.c.case_id,
                f.c.type,
                f.c.category,
                f.c.severity,
                f.c.occurred_at,
                f.c.detected_at,
                f.c.evidence,
            ).order_by(f.c.occurred_at)
        )
    )
    progress("failures", 0.1)
    cases = {
        r.id: r
        for r in c.execute(
            sa.select(
                k.c.id,
                k.c.customer_id,
                k.c.opened_at,
                k.c.acknowledged_at,
                k.c.resolved_at,
                k.c.experiment,
            )
        )
    }
    comps = list(
        c.execute(
            sa.select(
                p.c.case_id, p.c.customer_id, p.c.failure_id, p.c.kind, p.c.amount, p.c.status
            )
        )
    )
    tiers = {r.id: r.tier for r in c.execute(sa.select(t.customers.c.id, t.customers.c.tier))}
    progress("cases", 0.25)
    subjects = {
        r.id: (r.attributes or {}, _first_seen(r.seen))
        for r in c.execute(sa.select(t.subjects.c.id, t.subjects.c.attributes, t.subjects.c.seen))
    }
    progress("subjects", 0.4)
    followed = {
        r.case_id
        for r in c.execute(
            sa.select(t.timeline.c.case_id).where(
                t.timeline.c.kind == "state_changed",
                t.timeline.c.data["to"].as_string() == "followed_up",
            )
        )
    }
    answers: dict[str, dict[str, int]] = {}
    ratings: list[Rating] = []
    unread = 0
    scales = s.scales()
    for r in c.execute(
        sa.select(
            e.c.id, e.c.type, e.c.customer_id, e.c.subject_id, e.c.occurred_at, e.c.attributes
        )
        .where(e.c.type.in_({scale.type for scale in scales}))
        .order_by(e.c.occurred_at)
    ):
        attributes = r.attributes or {}
        if r.type == FOLLOW_UP and attributes.get("case_id") is not None:
            case = cases.get(str(attributes["case_id"]))
            if case is not None and case.customer_id == r.customer_id:
                answers[case.id] = {**answers.get(case.id, {}), **_answer(attributes)}
            continue
        scale = scale_of(scales, r.type, attributes)
        score = score_of(attributes.get("score"))
        if scale is None or score is None or not scale.low <= score <= scale.high:
            unread += 1
            continue
        at = _aware(r.occurred_at)
        ratings.append(Rating(r.id, r.customer_id, r.subject_id, at, scale, score))
    progress("surveys", 0.55)
    purchases: dict[str, list[datetime]] = defaultdict(list)
    for customer_id, at in c.execute(
        sa.select(e.c.customer_id, e.c.occurred_at)
        .where(e.c.type.in_(s.repurchase_types))
        .order_by(e.c.occurred_at)
    ):
        purchases[customer_id].append(at)
    anchors = {
        r[0]: _aware(r[1])
        for r in c.execute(
            sa.select(e.c.customer_id, sa.func.min(e.c.occurred_at))
            .where(e.c.type.in_(s.anchor_types + s.repurchase_types))
            .group_by(e.c.customer_id)
        )
    }
    observed_until = c.scalar(sa.select(sa.func.max(e.c.occurred_at)))
    spend = {
        str(r.day): Decimal(r.spent_minor) / 100
        for r in c.execute(sa.select(t.budget_spend).order_by(t.budget_spend.c.day))
    }
    progress("events", 0.7)
    return _Data(
        failures,
        cases,
        [r for r in comps if r.status == "granted"],
        [r for r in comps if r.status == "pending"],
        tiers,
        subjects,
        followed,
        answers,
        ratings,
        unread,
        dict(purchases),
        anchors,
        spend,
        _aware(observed_until) if observed_until else None,
    )


def recovery_metrics(
    c: sa.Connection, settings: MetricSettings, progress: Progress | None = None
) -> dict[str, Any]:
    """Every figure of the recovery report. Precondition: one read transaction (`c`)."""
    step = progress or (lambda _name, _share: None)
    data = _load(c, settings, step)
    keys = settings.keys if settings.keys is not None else _discover_keys(data)
    satisfied = {
        case_id for case_id, answer in data.answers.items() if _satisfied(answer, settings)
    }
    window = window_of(data.failures, settings)
    figures = {
        "period": _period(data),
        "window": window.as_dict() if window else None,
        "funnel": _funnel(data, satisfied),
        "timings_s": _timings(data),
        "satisfaction": _satisfaction(data, settings),
        "reviews": review_figures(
            data.ratings, data.failures, settings.late_categories, data.unread_ratings
        ),
        "spend": _spend(data, settings),
        "pareto": _paretos(data, keys, settings.pareto_limit, window),
        "hot_spots": _hot_spots(data, keys, window),
        "paradox": _paradox(data, settings, satisfied),
        "experiments": _experiments(data, settings, satisfied),
    }
    step("done", 1.0)
    return figures


def window_of(failures: list[Any], s: MetricSettings) -> Window | None:
    """The window comparisons look at: as the settings give it, or chosen from the failures'
    times (`metric_window`). Raises ValueError for a window that ends before it starts."""
    times = [_aware(r.occurred_at) for r in failures]
    return given_window(s.since, s.until, times[-1] if times else None) or choose_window(times)


def window_changes(c: sa.Connection, s: MetricSettings) -> dict[str, Any]:
    """Failures in the window against the window before, in all and by category: the
    summary's "what changed". Raises ValueError as `window_of`."""
    f = t.failures
    failures = list(c.execute(sa.select(f.c.category, f.c.occurred_at).order_by(f.c.occurred_at)))
    window = window_of(failures, s)
    counts: dict[str, Counter[str]] = {"now": Counter(), "before": Counter()}
    for r in failures:
        slot = window.slot(_aware(r.occurred_at)) if window else None
        if slot is not None:
            counts[slot][r.category] += 1
    now, before = counts["now"], counts["before"]
    return {
        "window": window.as_dict() if window else None,
        "failures": {
            "now": now.total(),
            "before": before.total(),
            "change": stats.change(now.total(), before.total()),
        },
        "by_category": [
            {
                "category": k,
                "now": now[k],
                "before": before[k],
                "change": stats.change(now[k], before[k]),
            }
            for k in sorted(now.keys() | before.keys(), key=lambda k: (-now[k], -before[k], k))
        ],
    }


def _answer(attributes: Mapping[str, Any]) -> dict[str, int]:
    """The scores of one follow-up answer by kind: its ``score`` under its ``kind`` (csat by
    default), and a ``ces`` asked alongside (the survey page's second question)."""
    out: dict[str, int] = {}
    score, ces = attributes.get("score"), attributes.get("ces")
    if isinstance(score, int) and not isinstance(score, bool):
        out[str(attributes.get("kind") or "csat")] = score
    if isinstance(ces, int) and not isinstance(ces, bool):
        out["ces"] = ces
    return out


def _satisfied(answer: Mapping[str, int], s: MetricSettings) -> bool:
    """Satisfied by the CSAT answer when there is one, else by the CES answer ("easy")."""
    if "csat" in answer:
        return answer["csat"] >= s.satisfied_at
    return "ces" in answer and answer["ces"] >= s.easy_at


# sections ---------------------------------------------------------------------------------
def _period(d: _Data) -> dict[str, Any]:
    first = d.failures[0].occurred_at if d.failures else None
    last = d.failures[-1].occurred_at if d.failures else None
    return {
        "first_failure": first,
        "last_failure": last,
        "observed_until": d.observed_until,
        "failures": len(d.failures),
        "cases": len(d.cases),
        "customers_failed": len({r.customer_id for r in d.failures}),
    }


def _funnel(d: _Data, satisfied: set[str]) -> dict[str, Any]:
    compensated = {r.case_id for r in d.granted}
    stages = [
        ("failed", len(d.cases)),
        ("acknowledged", sum(1 for r in d.cases.values() if r.acknowledged_at is not None)),
        ("compensated", len(compensated & d.cases.keys())),
        ("followed_up", len(d.followed_up & d.cases.keys())),
        ("answered", len(d.answers)),
        ("satisfied", len(satisfied)),
    ]
    total = len(d.cases)
    return {
        "unit": "cases",
        "failures": len(d.failures),
        "stages": [
            {"stage": name, "count": n, "share": round(n / total, 4) if total else None}
            for name, n in stages
        ],
    }


def _timings(d: _Data) -> dict[str, Any]:
    cases = d.cases.values()
    return {
        "detect": stats.percentiles(
            [(r.detected_at - r.occurred_at).total_seconds() for r in d.failures]
        ),
        "acknowledge": stats.percentiles(
            [(r.acknowledged_at - r.opened_at).total_seconds() for r in cases if r.acknowledged_at]
        ),
        "resolve": stats.percentiles(
            [(r.resolved_at - r.opened_at).total_seconds() for r in cases if r.resolved_at]
        ),
    }


def _satisfaction(d: _Data, s: MetricSettings) -> dict[str, Any]:
    csat = [answer["csat"] for answer in d.answers.values() if "csat" in answer]
    ces = [answer["ces"] for answer in d.answers.values() if "ces" in answer]
    return {
        "followed_up": len(d.followed_up & d.cases.keys()),
        "answered": len(d.answers),
        "csat": {
            "satisfied_at": s.satisfied_at,
            "satisfied": stats.proportion(
                sum(1 for x in csat if x >= s.satisfied_at), len(csat)
            ).as_dict(),
            "mean": round(statistics.fmean(csat), 2) if csat else None,
        },
        "ces": {
            "easy_at": s.easy_at,
            "easy": stats.proportion(sum(1 for x in ces if x >= s.easy_at), len(ces)).as_dict(),
            "mean": round(statistics.fmean(ces), 2) if ces else None,
        },
    }


def _spend(d: _Data, s: MetricSettings) -> dict[str, Any]:
    by_failure = {r.id: r for r in d.failures}
    groups: dict[str, Counter[str]] = {
        "category": Counter(),
        "severity": Counter(),
        "tier": Counter(),
        "kind": Counter(),
    }
    sums: dict[str, dict[str, Decimal]] = {name: defaultdict(Decimal) for name in groups}
    for r in d.granted:
        failure = by_failure.get(r.failure_id)
        labels = {
            "category": failure.category if failure else "unknown",
            "severity": failure.severity if failure else "unknown",
            "tier": d.tiers.get(r.customer_id, "unknown"),
            "kind": r.kind,
        }
        for name, label in labels.items():
            groups[name][label] += 1
            sums[name][label] += r.amount
    total = sum((r.amount for r in d.granted), Decimal(0))
    days = sorted(d.spend_by_day)
    budget = s.budget_per_day * len(days)
    return {
        "granted": money(total),
        "compensations": len(d.granted),
        "budget_per_day": money(s.budget_per_day),
        "days": len(days),
        "budget": money(budget),
        "share_of_budget": round(float(total / budget), 4) if budget else None,
        "by_day": [
            {
                "day": day,
                "spent": money(d.spend_by_day[day]),
                "share": round(float(d.spend_by_day[day] / s.budget_per_day), 4)
                if s.budget_per_day
                else None,
            }
            for day in days
        ],
        **{
            f"by_{name}": [
                {"key": key, "count": groups[name][key], "amount": money(amount)}
                for key, amount in sorted(sums[name].items(), key=lambda kv: -kv[1])
            ]
            for name in groups
        },
        "pending": {
            "count": len(d.pending),
            "amount": money(sum((r.amount for r in d.pending), Decimal(0))),
        },
    }


def _value_of(d: _Data, failure: Any, *, key: str) -> str | None:
    if failure.subject_id and failure.subject_id in d.subjects:
        value = d.subjects[failure.subject_id][0].get(key)
    else:
        value = ((failure.evidence or {}).get("attributes") or {}).get(key)
    return None if value is None else str(value)


def _paretos(d: _Data, keys: Iterable[str], limit: int, window: Window | None) -> dict[str, Any]:
    labels: dict[str, Callable[[Any], str | None]] = {
        "type": lambda r: r.type,
        "category": lambda r: r.category,
        "severity": lambda r: r.severity,
    }
    for key in keys:
        labels[key] = partial(_value_of, d, key=key)
    tables: dict[str, Any] = {}
    for name, label in labels.items():
        total: Counter[str] = Counter()
        this_week: Counter[str] = Counter()
        last_week: Counter[str] = Counter()
        for r in d.failures:
            value = label(r)
            if value is None:
                continue
            total[value] += 1
            slot = window.slot(_aware(r.occurred_at)) if window else None
            if slot == "now":
                this_week[value] += 1
            elif slot == "before":
                last_week[value] += 1
        rows = stats.pareto(total, limit)
        for row in rows:
            key_ = str(row["key"])
            row.update(
                this_week=this_week[key_],
                last_week=last_week[key_],
                change=stats.change(this_week[key_], last_week[key_]),
            )
        tables[name] = {"rows": rows, "total": sum(total.values()), "keys": len(total)}
    return tables


def _hot_spots(d: _Data, keys: Iterable[str], window: Window | None) -> dict[str, Any]:
    """Values of a key whose failure rate (failed orders / orders first seen in the window)
    rose significantly from the window before (one-sided z-test, p < 0.05)."""
    if window is None:
        return {"window_s": None, "rows": []}
    failed = {r.subject_id for r in d.failures if r.subject_id}
    rows: list[dict[str, Any]] = []
    for key in keys:
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # failed/n now, before
        for subject_id, (attributes, seen) in d.subjects.items():
            value = attributes.get(key)
            where = window.slot(seen) if value is not None and seen is not None else None
            if where is None:
                continue
            slot = 0 if where == "now" else 2
            counts[str(value)][slot] += subject_id in failed
            counts[str(value)][slot + 1] += 1
        for value, (x1, n1, x2, n2) in counts.items():
            test = stats.two_proportion_z(x1, n1, x2, n2)
            if test is None or x1 < MIN_HOT_FAILURES or test[0] <= 0 or test[1] / 2 >= 0.05:
                continue
            rows.append(
                {
                    "key": key,
                    "value": value,
                    "now": stats.proportion(x1, n1).as_dict(),
                    "before": stats.proportion(x2, n2).as_dict(),
                    "z": round(test[0], 3),
                    "p": round(test[1] / 2, 5),
                }
            )
    rows.sort(key=lambda r: -float(r["z"]))
    return {"window_s": window.length.total_seconds(), "rows": rows}


def _bought_within(d: _Data, customer_id: str, after: datetime, window: timedelta) -> bool:
    times = d.purchases.get(customer_id, [])
    i = bisect_right(times, after)
    return i < len(times) and times[i] <= after + window


def _paradox(d: _Data, s: MetricSettings, satisfied: set[str]) -> dict[str, Any]:
    first: dict[str, datetime] = {}
    for r in d.failures:
        first.setdefault(r.customer_id, r.occurred_at)
    recovered = {d.cases[c].customer_id for c in satisfied if c in d.cases}
    groups: dict[str, list[bool]] = {"recovered": [], "not_recovered": [], "never_failed": []}
    truncated = 0
    for customer_id, anchor in {**d.anchors, **first}.items():
        group = (
            "never_failed"
            if customer_id not in first
            else "recovered"
            if customer_id in recovered
            else "not_recovered"
        )
        groups[group].append(_bought_within(d, customer_id, anchor, s.repurchase_window))
        if d.observed_until and anchor + s.repurchase_window > d.observed_until:
            truncated += 1
    counts = {name: (sum(v), len(v)) for name, v in groups.items()}
    comparisons = []
    for a, b in (
        ("recovered", "not_recovered"),
        ("recovered", "never_failed"),
        ("not_recovered", "never_failed"),
    ):
        diff = stats.difference(*counts[a], *counts[b])
        comparisons.append(
            {
                "a": a,
                "b": b,
                "difference": diff.as_dict() if diff else None,
                "verdict": _verdict(a, b, diff, counts[a][1], counts[b][1]),
            }
        )
    return {
        "window_days": s.repurchase_window.total_seconds() / 86400,
        "repurchase_types": list(s.repurchase_types),
        "groups": {name: stats.proportion(*counts[name]).as_dict() for name in groups},
        "comparisons": comparisons,
        "truncated_windows": truncated,
        "observed_until": d.observed_until,
    }


def _verdict(a: str, b: str, diff: stats.Difference | None, na: int, nb: int) -> str:
    names = {
        "recovered": "recovered customers",
        "not_recovered": "unrecovered customers",
        "never_failed": "customers never failed",
    }
    if diff is None or min(na, nb) < 10:
        return f"Too few customers to compare {names[a]} with {names[b]}."
    interval = f"{100 * diff.low:+.1f} to {100 * diff.high:+.1f} points"
    if not diff.clear:
        return f"The data cannot tell {names[a]} and {names[b]} apart (95 % interval {interval})."
    word = "more" if diff.difference > 0 else "less"
    return (
        f"{names[a].capitalize()} bought again {word} often than {names[b]} "
        f"({100 * diff.difference:+.1f} points, 95 % interval {interval})."
    )


def _experiments(d: _Data, s: MetricSettings, satisfied: set[str]) -> list[dict[str, Any]]:
    arms: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for case in d.cases.values():
        for name, arm in (case.experiment or {}).items():
            arms[name][str(arm)].append(case)
    cost: dict[str, Decimal] = defaultdict(Decimal)
    for r in d.granted:
        cost[r.case_id] += r.amount
    out = []
    for name in sorted(arms):
        rows: dict[str, dict[str, Any]] = {}
        for arm, cases in sorted(arms[name].items()):
            spent = sum((cost[c.id] for c in cases), Decimal(0))
            answered = [c for c in cases if c.id in d.answers]
            bought = sum(
                _bought_within(d, c.customer_id, c.opened_at, s.repurchase_window) for c in cases
            )
            rows[arm] = {
                "arm": arm,
                "cases": len(cases),
                "cost": money(spent),
                "cost_per_case": money(spent / len(cases)),
                "satisfied": stats.proportion(
                    sum(1 for c in answered if c.id in satisfied), len(answered)
                ),
                "repurchase": stats.proportion(bought, len(cases)),
            }
        control = s.controls.get(name) or next(
            (a for a in ("control", "holdout") if a in rows),
            min(rows, key=lambda a: (Decimal(rows[a]["cost_per_case"]), a)),
        )
        base = rows[control]
        for row in rows.values():
            for measure in ("satisfied", "repurchase"):
                mine, ref = row[measure], base[measure]
                diff = stats.difference(mine.successes, mine.n, ref.successes, ref.n)
                test = stats.two_proportion_z(mine.successes, mine.n, ref.successes, ref.n)
                row[f"{measure}_vs_control"] = (
                    None
                    if row["arm"] == control
                    else {
                        "difference": diff.as_dict() if diff else None,
                        "z": round(test[0], 3) if test else None,
                        "p": round(test[1], 5) if test else None,
                    }
                )
        for row in rows.values():
            row["satisfied"] = row["satisfied"].as_dict()
            row["repurchase"] = row["repurchase"].as_dict()
        out.append({"experiment": name, "control": control, "arms": list(rows.values())})
    return out


# helpers ----------------------------------------------------------------------------------
def _discover_keys(d: _Data, most: int = 500) -> tuple[str, ...]:
    """String attributes of orders that look like a place or a party: 2..500 distinct values,
    none of them a number or a time."""
    values: dict[str, set[str]] = defaultdict(set)
    for attributes, _ in d.subjects.values():
        for key, value in attributes.items():
            if isinstance(value, str) and len(values[key]) <= most:
                values[key].add(value)
    return tuple(
        sorted(
            k for k, v in values.items() if 2 <= len(v) <= most and not any(_numeric(x) for x in v)
        )
    )


def _numeric(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        pass
    try:
        datetime.fromisoformat(text)
        return True
    except ValueError:
        return False


def _first_seen(seen: Mapping[str, Any] | None) -> datetime | None:
    times = [parse_datetime(v, "seen") if isinstance(v, str) else v for v in (seen or {}).values()]
    return min(times) if times else None


def _aware(value: datetime) -> datetime:
    return t.UtcDateTime().process_result_value(value, None) or value


__all__ = ["MetricSettings", "money", "recovery_metrics", "window_changes", "window_of"]


def recovery_shares(c: sa.Connection) -> dict[str, int]:
    """Cases by who recovered them: `recovered_automatically` (resolved, never escalated),
    `escalated` (a person was asked: `waiting_for_a_person` still are), `in_progress` (open,
    no person asked, e.g. the parcel is still on its way)."""
    asked = {
        r.case_id
        for r in c.execute(
            sa.select(t.timeline.c.case_id, t.timeline.c.data).where(
                t.timeline.c.kind == "state_changed"
            )
        )
        if (r.data or {}).get("to") == "escalated"
    }
    shares = dict.fromkeys(
        ("recovered_automatically", "escalated", "waiting_for_a_person", "in_progress"), 0
    )
    for r in c.execute(sa.select(t.cases.c.id, t.cases.c.state, t.cases.c.needs_person)):
        if r.id in asked or r.needs_person:
            shares["escalated"] += 1
            shares["waiting_for_a_person"] += bool(r.needs_person)
        elif r.state in ("resolved", "followed_up", "closed"):
            shares["recovered_automatically"] += 1
        else:
            shares["in_progress"] += 1
    return shares
