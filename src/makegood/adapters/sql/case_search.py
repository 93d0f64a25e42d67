"""Searching, filtering and sorting cases for the queue and the case list (issue 15, the desk).

The free text is a bounded `LIKE` (case-insensitive) over what is stored: the case id (a prefix),
the customer's id and name, the subject (order) key, and the `text` of the case's timeline entries
(notes, a customer's words added as evidence) and of its failures' evidence (the customer message
that opened the case). No search engine: `EXISTS` per table, so a case is counted once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from makegood.adapters.sql import schema as t
from makegood.domain.model import OPEN_STATES, SEVERITY_RANK

TIER_RANK = {"gold": 2, "silver": 1}
SORTS = ("priority", "newest", "oldest", "sla_due", "updated")
SLA_STATES = ("breached", "due_1h", "ok")
SOON = timedelta(hours=1)
FAR = datetime.max.replace(tzinfo=UTC)


def joined() -> sa.FromClause:
    c, k = t.cases.c, t.customers.c
    return t.cases.join(t.customers, k.id == c.customer_id, isouter=True)


def _text_matches(q: str) -> sa.ColumnElement[bool]:
    c, k = t.cases.c, t.customers.c
    tl, fl = t.timeline.c, t.failures.c
    said = sa.exists().where(
        tl.case_id == c.id, tl.data["text"].as_string().icontains(q, autoescape=True)
    )
    evidence = sa.exists().where(
        fl.case_id == c.id, fl.evidence["text"].as_string().icontains(q, autoescape=True)
    )
    return sa.or_(
        c.id.istartswith(q, autoescape=True),
        c.customer_id.icontains(q, autoescape=True),
        k.name.icontains(q, autoescape=True),
        c.subject_key.icontains(q, autoescape=True),
        said,
        evidence,
    )


def conditions(filters: dict[str, Any], now: datetime) -> list[sa.ColumnElement[bool]]:
    """The WHERE of a filtered list; the query must select from `joined()`."""
    c, k = t.cases.c, t.customers.c
    found: list[sa.ColumnElement[bool]] = []
    for name in ("state", "severity", "category", "customer_id", "owner"):
        if filters.get(name):
            found.append(c[name] == filters[name])
    if filters.get("needs_person") is not None:
        found.append(c.needs_person == filters["needs_person"])
    if filters.get("open"):
        found.append(c.state.in_(sorted(OPEN_STATES)))
    if filters.get("tier"):
        found.append(sa.func.coalesce(k.tier, "standard") == filters["tier"])
    sla = filters.get("sla")
    if sla == "breached":
        found.append(c.sla_due_at < now)
    elif sla == "due_1h":
        found.append(sa.and_(c.sla_due_at >= now, c.sla_due_at < now + SOON))
    elif sla == "ok":
        found.append(sa.or_(c.sla_due_at.is_(None), c.sla_due_at >= now + SOON))
    q = (filters.get("q") or "").strip()
    if q:
        found.append(_text_matches(q))
    return found


def sort_keys(sort: str) -> tuple[list[sa.ColumnElement[Any]], bool]:
    """The keyset of a sort (ending in the unique id) and whether it runs descending."""
    c, k = t.cases.c, t.customers.c
    if sort == "newest":
        return [c.opened_at, c.id], True
    if sort == "oldest":
        return [c.opened_at, c.id], False
    if sort == "updated":
        return [c.updated_at, c.id], True
    due = sa.func.coalesce(c.sla_due_at, sa.literal(FAR, t.UtcDateTime()))
    if sort == "sla_due":
        return [due, c.id], False
    return [
        sa.case({s: -rank for s, rank in SEVERITY_RANK.items()}, value=c.severity, else_=0),
        sa.case({tier: -rank for tier, rank in TIER_RANK.items()}, value=k.tier, else_=0),
        due,
        c.id,
    ], False
