"""Read models over the SQL store: the summary, case lists and a case's whole story."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from makegood.adapters.sql import rows
from makegood.adapters.sql import schema as t
from makegood.adapters.sql.metrics import recovery_shares
from makegood.domain.errors import NotFound


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p90": None, "n": 0}
    if len(values) == 1:
        return {"p50": values[0], "p90": values[0], "n": 1}
    cuts = statistics.quantiles(values, n=10, method="inclusive")
    return {"p50": round(statistics.median(values), 3), "p90": round(cuts[8], 3), "n": len(values)}


def summary(c: sa.Connection, budget_per_day: Decimal) -> dict[str, Any]:
    """What was detected, done, spent and learned: the tables `makegood demo` prints."""
    failures = list(
        c.execute(
            sa.select(
                t.failures.c.type,
                t.failures.c.category,
                t.failures.c.severity,
                t.failures.c.occurred_at,
                t.failures.c.detected_at,
            )
        )
    )
    cases = list(
        c.execute(
            sa.select(
                t.cases.c.state,
                t.cases.c.opened_at,
                t.cases.c.acknowledged_at,
                t.cases.c.resolved_at,
                t.cases.c.needs_person,
                t.cases.c.survey_score,
            )
        )
    )
    messages = Counter(r.template for r in c.execute(sa.select(t.outbox.c.template)))
    outbox_status = Counter(r.status for r in c.execute(sa.select(t.outbox.c.status)))
    comps = list(c.execute(sa.select(t.compensations)))
    granted = [r for r in comps if r.status == "granted"]
    pending = [r for r in comps if r.status == "pending"]
    spend_by_day = {
        str(r.day): Decimal(r.spent_minor) / 100
        for r in c.execute(sa.select(t.budget_spend).order_by(t.budget_spend.c.day))
    }
    answered = [r.survey_score for r in cases if r.survey_score is not None]
    # a file ingested again quarantines its bad lines again: count each bad input once
    q = t.quarantine.c
    distinct_bad = sa.select(q.source, q.line, q.raw).distinct().subquery()
    quarantined = c.scalar(sa.select(sa.func.count()).select_from(distinct_bad))
    incidents = [
        {
            "key": i["key"],
            "source": i["source"],
            "declared_at": i["declared_at"],
            "resolved_at": i["resolved_at"],
            "customers": i["affected"],
            "messages": i["messages"],
        }
        for i in list_incidents(c)
    ]
    events = c.scalar(sa.select(sa.func.count()).select_from(t.events))
    return {
        "events": events,
        "quarantined": quarantined,
        "failures": {
            "total": len(failures),
            "by_type": dict(Counter(r.type for r in failures).most_common()),
            "by_category": dict(Counter(r.category for r in failures).most_common()),
            "by_severity": dict(Counter(r.severity for r in failures).most_common()),
        },
        "incidents": incidents,
        "cases": {
            "total": len(cases),
            "by_state": dict(Counter(r.state for r in cases)),
            "waiting_for_a_person": sum(1 for r in cases if r.needs_person),
            "shares": recovery_shares(c),
        },
        "actions": {
            "messages_by_template": dict(messages.most_common()),
            "outbox": dict(outbox_status),
            "compensations_granted": len(granted),
            "compensations_by_kind": {
                k: str(sum((r.amount for r in granted if r.kind == k), Decimal(0)))
                for k in sorted({r.kind for r in granted})
            },
        },
        "spend": {
            "granted": str(sum((r.amount for r in granted), Decimal(0))),
            "budget_per_day": str(budget_per_day),
            "by_day": {k: str(v) for k, v in spend_by_day.items()},
        },
        "approvals": {
            "waiting": len(pending),
            "amount": str(sum((r.amount for r in pending), Decimal(0))),
            "by_role": dict(Counter(r.required_role for r in pending)),
        },
        "timings_s": {
            "detect": percentiles(
                [(r.detected_at - r.occurred_at).total_seconds() for r in failures]
            ),
            "acknowledge": percentiles(
                [
                    (r.acknowledged_at - r.opened_at).total_seconds()
                    for r in cases
                    if r.acknowledged_at
                ]
            ),
            "resolve": percentiles(
                [(r.resolved_at - r.opened_at).total_seconds() for r in cases if r.resolved_at]
            ),
        },
        "satisfaction": {
            "answered": len(answered),
            "satisfied_share": round(sum(1 for s in answered if s >= 4) / len(answered), 3)
            if answered
            else None,
            "mean_score": round(statistics.fmean(answered), 2) if answered else None,
        },
    }


def list_cases(
    c: sa.Connection, state: str | None = None, limit: int = 50, needs_person: bool | None = None
) -> list[dict[str, Any]]:
    query = sa.select(t.cases).order_by(t.cases.c.updated_at.desc(), t.cases.c.id).limit(limit)
    if state:
        query = query.where(t.cases.c.state == state)
    if needs_person is not None:
        query = query.where(t.cases.c.needs_person == needs_person)
    return [rows.case_row(rows.case_of(r)) for r in c.execute(query)]


def case_detail(c: sa.Connection, case_id: str) -> dict[str, Any]:
    row = c.execute(sa.select(t.cases).where(t.cases.c.id == case_id)).first()
    if row is None:
        raise NotFound(f"no case {case_id!r}")
    timeline = [
        {"at": r.at, "kind": r.kind, "actor": r.actor, "data": r.data}
        for r in c.execute(
            sa.select(t.timeline)
            .where(t.timeline.c.case_id == case_id)
            .order_by(t.timeline.c.at, t.timeline.c.id)
        )
    ]
    failures = [
        rows.failure_row(rows.failure_of(r))
        for r in c.execute(sa.select(t.failures).where(t.failures.c.case_id == case_id))
    ]
    comps = [
        rows.compensation_row(rows.compensation_of(r))
        for r in c.execute(sa.select(t.compensations).where(t.compensations.c.case_id == case_id))
    ]
    messages = [
        {
            "id": r.id,
            "template": r.template,
            "channel": r.channel,
            "status": r.status,
            "created_at": r.created_at,
            "attempts": r.attempts,
        }
        for r in c.execute(
            sa.select(t.outbox).where(t.outbox.c.case_id == case_id).order_by(t.outbox.c.created_at)
        )
    ]
    return {
        "case": rows.case_row(rows.case_of(row)),
        "failures": failures,
        "compensations": comps,
        "messages": messages,
        "timeline": timeline,
    }


def messages_since(c: sa.Connection, since: Any) -> list[dict[str, Any]]:
    """Messages created after `since`, as the demo's simulated customers receive them."""
    query = (
        sa.select(
            t.outbox.c.customer_id,
            t.outbox.c.case_id,
            t.outbox.c.template,
            t.outbox.c.created_at,
            t.outbox.c.context,
            t.outbox.c.channel,
        )
        .where(t.outbox.c.created_at > since, t.outbox.c.channel != "action")
        .order_by(t.outbox.c.created_at, t.outbox.c.id)
    )
    return [dict(r._mapping) for r in c.execute(query)]


def _incident_view(c: sa.Connection, r: Any) -> dict[str, Any]:
    signals = [datetime.fromisoformat(s[0]) for s in r.signals]
    first_failure = min(signals) if signals else r.declared_at
    first_message = c.scalar(
        # a key range, not LIKE: the unique index on key serves it (';' follows ':')
        sa.select(sa.func.min(t.outbox.c.created_at)).where(
            t.outbox.c.key >= f"{r.id}:1:", t.outbox.c.key < f"{r.id}:1;"
        )
    )
    return {
        "id": r.id,
        "spec": r.spec,
        "key": r.key,
        "status": r.status,
        "source": r.source,
        "first_failure_at": first_failure,
        "declared_at": r.declared_at,
        "resolved_at": r.resolved_at,
        "affected": len(r.affected),
        "messages": r.messages,
        "spent": str(r.spent),
        "to_declare_s": (r.declared_at - first_failure).total_seconds()
        if r.declared_at and first_failure
        else None,
        "to_first_message_s": (first_message - first_failure).total_seconds()
        if first_message and first_failure
        else None,
    }


def list_incidents(c: sa.Connection, limit: int = 100) -> list[dict[str, Any]]:
    """Declared incidents, newest first (a forming one is only a count of signals)."""
    query = (
        sa.select(t.incidents)
        .where(t.incidents.c.status != "forming")
        .order_by(t.incidents.c.declared_at.desc(), t.incidents.c.id)
        .limit(limit)
    )
    return [_incident_view(c, r) for r in c.execute(query)]


def incident_detail(c: sa.Connection, incident_id: str) -> dict[str, Any]:
    row = c.execute(
        sa.select(t.incidents).where(
            t.incidents.c.id == incident_id, t.incidents.c.status != "forming"
        )
    ).first()
    if row is None:
        raise NotFound(f"no incident {incident_id!r}")
    timeline = [
        {"at": r.at, "kind": r.kind, "actor": r.actor, "data": r.data}
        for r in c.execute(
            sa.select(t.timeline)
            .where(t.timeline.c.case_id == incident_id)
            .order_by(t.timeline.c.at, t.timeline.c.id)
        )
    ]
    return {**_incident_view(c, row), "customers": sorted(row.affected), "timeline": timeline}
