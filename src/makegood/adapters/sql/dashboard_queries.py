"""Read models for the API and the dashboard: the queue, case pages, approvals, metrics."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from makegood.adapters.sql import case_search, paging, queries, rows
from makegood.adapters.sql import schema as t
from makegood.domain.errors import NotFound
from makegood.domain.model import OPEN_STATES
from makegood.domain.policy import Budgets


def list_cases(
    conn: sa.Connection,
    filters: dict[str, Any],
    limit: int,
    offset: int = 0,
    cursor: str | None = None,
    *,
    now: datetime,
    sort: str = "updated",
) -> dict[str, Any]:
    """A page of cases (most recently changed first unless `sort` says otherwise), with the
    total for the filters (`case_search`). Pass the previous page's `next_cursor` to go on
    (`offset` is kept for older clients)."""
    where = case_search.conditions(filters, now)
    query = sa.select(t.cases).select_from(case_search.joined()).where(*where)
    count = sa.select(sa.func.count()).select_from(case_search.joined()).where(*where)
    keys, descending = case_search.sort_keys(sort)
    found = paging.page(
        conn,
        query.offset(offset) if offset and not cursor else query,
        keys,
        count,
        limit,
        cursor,
        lambda r: rows.case_row(rows.case_of(r)),
        descending=descending,
    )
    return {**_page_out(found, limit), "offset": offset}


def _page_out(found: paging.Page, limit: int) -> dict[str, Any]:
    return {
        "items": found.items,
        "total": found.total,
        "limit": limit,
        "next_cursor": found.next_cursor,
    }


def _queue_row(r: Any) -> dict[str, Any]:
    item = rows.case_row(rows.case_of(r))
    item["customer_name"] = r.customer_name
    item["customer_tier"] = r.customer_tier or "standard"
    return item


def queue(
    conn: sa.Connection,
    filters: dict[str, Any],
    limit: int = 50,
    cursor: str | None = None,
    *,
    now: datetime,
    sort: str = "priority",
) -> dict[str, Any]:
    """Open cases, by priority (severity, then customer tier, then the SLA clock running out)
    unless `sort` says otherwise; searched and filtered (`case_search`), a page of them and how
    many match in all."""
    k = t.customers.c
    where = case_search.conditions({"open": True, **filters}, now)
    query = (
        sa.select(t.cases, k.name.label("customer_name"), k.tier.label("customer_tier"))
        .select_from(case_search.joined())
        .where(*where)
    )
    count = sa.select(sa.func.count()).select_from(case_search.joined()).where(*where)
    keys, descending = case_search.sort_keys(sort)
    found = paging.page(conn, query, keys, count, limit, cursor, _queue_row, descending)
    return _page_out(found, limit)


def open_categories(conn: sa.Connection) -> list[str]:
    c = t.cases.c
    query = sa.select(c.category).where(c.state.in_(sorted(OPEN_STATES))).distinct()
    return sorted(conn.scalars(query))


def _approval_row(r: Any) -> dict[str, Any]:
    item = rows.compensation_row(rows.compensation_of(r))
    item.update(
        category=r.category or "incident",
        severity=r.severity or "major",
        case_state=r.case_state,
        incident_id=r.incident_id,
        incident_key=r.incident_key,
        customer_name=r.customer_name,
        customer_tier=r.customer_tier or "standard",
    )
    return item


APPROVAL_KINDS = ("case", "incident")


def _approval_filters(filters: Mapping[str, Any] | None) -> list[sa.ColumnElement[bool]]:
    """`kind` (case | incident), `min_amount` and `max_amount` (inclusive) as conditions."""
    comp, incidents = t.compensations, t.incidents.alias("of_incident")
    f = filters or {}
    found: list[sa.ColumnElement[bool]] = [comp.c.status == "pending"]
    of_incident = sa.exists().where(incidents.c.id == comp.c.failure_id)
    if f.get("kind") == "incident":
        found.append(of_incident)
    elif f.get("kind") == "case":
        found.append(~of_incident)
    amount = sa.cast(comp.c.amount, sa.Numeric(14, 2))  # stored as exact text
    if f.get("min_amount") is not None:
        found.append(amount >= f["min_amount"])
    if f.get("max_amount") is not None:
        found.append(amount <= f["max_amount"])
    return found


def pending_approvals(
    conn: sa.Connection,
    limit: int = 50,
    cursor: str | None = None,
    filters: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Compensation waiting for a person, oldest first: a case's, or an incident's to a
    customer who has no case of their own (its `case_id` is then the incident's id), with
    the customer's name and tier; `filters` as `_approval_filters` reads them."""
    comp, cases, incidents, customers = t.compensations, t.cases, t.incidents, t.customers
    where = _approval_filters(filters)
    query = (
        sa.select(
            comp,
            cases.c.category,
            cases.c.severity,
            cases.c.state.label("case_state"),
            incidents.c.id.label("incident_id"),
            incidents.c.key.label("incident_key"),
            customers.c.name.label("customer_name"),
            customers.c.tier.label("customer_tier"),
        )
        .select_from(
            comp.join(cases, cases.c.id == comp.c.case_id, isouter=True)
            .join(incidents, incidents.c.id == comp.c.failure_id, isouter=True)
            .join(customers, customers.c.id == comp.c.customer_id, isouter=True)
        )
        .where(*where)
    )
    count = sa.select(sa.func.count()).select_from(comp).where(*where)
    found = paging.page(
        conn,
        query,
        [comp.c.created_at, comp.c.id],
        count,
        limit,
        cursor,
        _approval_row,
    )
    return _page_out(found, limit)


def pending_count_query() -> sa.Select[Any]:
    comp = t.compensations
    return sa.select(sa.func.count()).select_from(comp).where(comp.c.status == "pending")


def incidents_page(
    conn: sa.Connection, limit: int = 50, cursor: str | None = None
) -> dict[str, Any]:
    """Declared incidents, newest first (a forming one is only a count of signals)."""
    i = t.incidents.c
    query = sa.select(t.incidents).where(i.status != "forming")
    count = sa.select(sa.func.count()).select_from(t.incidents).where(i.status != "forming")
    keys = [sa.func.coalesce(i.declared_at, i.first_at), i.id]
    found = paging.page(
        conn,
        query,
        keys,
        count,
        limit,
        cursor,
        lambda r: queries._incident_view(conn, r),
        descending=True,
    )
    return _page_out(found, limit)


def compensation_owner(conn: sa.Connection, compensation_id: str) -> tuple[str, str, str]:
    """(case id, customer id, cause) of a compensation: the cause is the failure or incident it
    makes good for; an incident's id stands for the case of a customer who had none."""
    c = t.compensations.c
    row = conn.execute(
        sa.select(c.case_id, c.customer_id, c.failure_id).where(c.id == compensation_id)
    ).first()
    if row is None:
        raise NotFound(f"no compensation {compensation_id!r}")
    return str(row.case_id), str(row.customer_id), str(row.failure_id)


def compensation_owners(conn: sa.Connection, ids: list[str]) -> list[tuple[str, str, str, str]]:
    """`compensation_owner` of several, as (id, case id, customer id, cause), in the order
    asked; an unknown id is left out."""
    c = t.compensations.c
    found = {
        r.id: (str(r.id), str(r.case_id), str(r.customer_id), str(r.failure_id))
        for r in conn.execute(
            sa.select(c.id, c.case_id, c.customer_id, c.failure_id).where(c.id.in_(ids))
        )
    }
    return [found[i] for i in dict.fromkeys(ids) if i in found]


def outbox_message(conn: sa.Connection, key: str) -> dict[str, Any] | None:
    """The outbox message with this idempotency key, if one was queued."""
    o = t.outbox.c
    row = conn.execute(
        sa.select(o.id, o.template, o.locale, o.channel, o.status).where(o.key == key)
    ).first()
    return dict(row._mapping) if row else None


def case_customer_locale(
    conn: sa.Connection, case_id: str, survey_template: str = "survey"
) -> tuple[str, str] | None:
    """(customer id, language) of a case's survey: the locale its survey message was written
    in (the language the customer read it in), else the profile's, else "en"."""
    row = conn.execute(
        sa.select(t.cases.c.customer_id, t.customers.c.locale)
        .join(t.customers, t.customers.c.id == t.cases.c.customer_id, isouter=True)
        .where(t.cases.c.id == case_id)
    ).first()
    if row is None:
        return None
    sent_in = conn.scalar(
        sa.select(t.outbox.c.locale)
        .where(t.outbox.c.case_id == case_id, t.outbox.c.template == survey_template)
        .order_by(t.outbox.c.created_at.desc())
        .limit(1)
    )
    return (row.customer_id, sent_in or row.locale or "en")


def event_exists(conn: sa.Connection, event_id: str) -> bool:
    return conn.scalar(sa.select(t.events.c.id).where(t.events.c.id == event_id)) is not None


def known_event_ids(conn: sa.Connection, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), 900):
        part = ids[start : start + 900]
        found.update(conn.scalars(sa.select(t.events.c.id).where(t.events.c.id.in_(part))))
    return found


def case_page(conn: sa.Connection, case_id: str, budgets: Budgets, now: datetime) -> dict[str, Any]:
    """A case's whole story: the case, its customer and their history, and what is left to give."""
    detail = queries.case_detail(conn, case_id)
    case = detail["case"]
    row = conn.execute(
        sa.select(t.customers).where(t.customers.c.id == case["customer_id"])
    ).first()
    detail["customer"] = (
        rows.customer_row(rows.customer_of(row))
        if row
        else {"id": case["customer_id"], "name": None, "tier": "standard", "locale": "en"}
    )
    detail["history"] = [
        {
            "id": r.id,
            "category": r.category,
            "severity": r.severity,
            "state": r.state,
            "opened_at": r.opened_at,
        }
        for r in conn.execute(
            sa.select(t.cases)
            .where(t.cases.c.customer_id == case["customer_id"], t.cases.c.id != case_id)
            .order_by(t.cases.c.opened_at.desc())
            .limit(20)
        )
    ]
    comps = list(
        conn.execute(
            sa.select(t.compensations).where(
                t.compensations.c.customer_id == case["customer_id"],
                t.compensations.c.status == "granted",
            )
        )
    )
    since = now - timedelta(days=30)
    to_case = sum((r.amount for r in comps if r.case_id == case_id), Decimal(0))
    to_customer = sum(
        (r.amount for r in comps if r.decided_at and r.decided_at > since), Decimal(0)
    )
    spent_minor = (
        conn.scalar(
            sa.select(t.budget_spend.c.spent_minor).where(t.budget_spend.c.day == now.date())
        )
        or 0
    )
    today = Decimal(spent_minor) / 100
    detail["budget"] = {
        "per_case": {
            "limit": budgets.per_case,
            "granted": to_case,
            "remaining": max(budgets.per_case - to_case, Decimal(0)),
        },
        "per_customer_30d": {
            "limit": budgets.per_customer_30d,
            "granted": to_customer,
            "remaining": max(budgets.per_customer_30d - to_customer, Decimal(0)),
        },
        "global_today": {
            "limit": budgets.global_per_day,
            "granted": today,
            "remaining": max(budgets.global_per_day - today, Decimal(0)),
        },
    }
    detail["budget"]["remaining"] = min(v["remaining"] for v in detail["budget"].values())
    outbox_events = conn.execute(
        sa.select(t.events.c.id, t.events.c.type, t.events.c.occurred_at)
        .where(t.events.c.customer_id == case["customer_id"])
        .order_by(t.events.c.occurred_at.desc())
        .limit(30)
    )
    detail["events"] = [dict(r._mapping) for r in outbox_events]
    return detail


def metrics(conn: sa.Connection, budgets: Budgets) -> dict[str, Any]:
    """The recovery numbers: the summary, the funnel, and failures by category over time."""
    figures = queries.summary(conn, budgets.global_per_day)
    cases = list(
        conn.execute(
            sa.select(
                t.cases.c.acknowledged_at,
                t.cases.c.resolved_at,
                t.cases.c.state,
                t.cases.c.survey_score,
                t.cases.c.closed_at,
            )
        )
    )
    figures["funnel"] = [
        {"step": "detected", "cases": len(cases)},
        {"step": "acknowledged", "cases": sum(1 for r in cases if r.acknowledged_at)},
        {"step": "resolved", "cases": sum(1 for r in cases if r.resolved_at or r.closed_at)},
        {
            "step": "surveyed",
            "cases": sum(
                1 for r in cases if r.survey_score is not None or r.state in ("followed_up",)
            ),
        },
        {"step": "satisfied", "cases": sum(1 for r in cases if (r.survey_score or 0) >= 4)},
    ]
    buckets: dict[str, Counter[str]] = defaultdict(Counter)
    for r in conn.execute(sa.select(t.failures.c.detected_at, t.failures.c.category)):
        buckets[r.detected_at.strftime("%Y-%m-%dT%H:00Z")][r.category] += 1
    figures["failures_over_time"] = [
        {"hour": hour, "by_category": dict(buckets[hour])} for hour in sorted(buckets)
    ]
    return figures
