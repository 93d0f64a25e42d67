"""One customer as the desk sees them (issue 15): every case, message (sent and received),
compensation and survey answer, newest first, with lifetime value and compensation granted in
the last 30 days. Each list holds at most `LIMIT` rows and says when there were more."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from makegood.adapters.sql import rows
from makegood.adapters.sql import schema as t
from makegood.domain.errors import NotFound

LIMIT = 500


def _listed(conn: sa.Connection, query: sa.Select[Any]) -> tuple[list[Any], bool]:
    found = list(conn.execute(query.limit(LIMIT + 1)))
    return found[:LIMIT], len(found) > LIMIT


def _events(conn: sa.Connection, customer_id: str, kind: str) -> tuple[list[Any], bool]:
    e = t.events.c
    query = (
        sa.select(e.id, e.occurred_at, e.subject_id, e.attributes)
        .where(e.customer_id == customer_id, e.type == kind)
        .order_by(e.occurred_at.desc(), e.id.desc())
    )
    return _listed(conn, query)


def customer_page(conn: sa.Connection, customer_id: str, now: datetime) -> dict[str, Any]:
    """The customer's whole record; NotFound for an id the store has never seen."""
    k, c, o, m = t.customers.c, t.cases.c, t.outbox.c, t.compensations.c
    profile = conn.execute(sa.select(t.customers).where(k.id == customer_id)).first()
    cases, more_cases = _listed(
        conn,
        sa.select(t.cases)
        .where(c.customer_id == customer_id)
        .order_by(c.opened_at.desc(), c.id.desc()),
    )
    if profile is None and not cases:
        raise NotFound(f"no customer {customer_id!r}")
    sent, more_sent = _listed(
        conn,
        sa.select(o.id, o.case_id, o.channel, o.template, o.locale, o.status)
        .add_columns(o.created_at, o.sent_at)
        .where(o.customer_id == customer_id)
        .order_by(o.created_at.desc(), o.id.desc()),
    )
    received, more_received = _events(conn, customer_id, "message.received")
    answers, more_answers = _events(conn, customer_id, "survey.answered")
    comps, more_comps = _listed(
        conn,
        sa.select(t.compensations)
        .where(m.customer_id == customer_id)
        .order_by(m.created_at.desc(), m.id.desc()),
    )
    since = now - timedelta(days=30)
    granted = [
        Decimal(amount)
        for amount in conn.scalars(
            sa.select(m.amount).where(
                m.customer_id == customer_id, m.status == "granted", m.decided_at > since
            )
        )
    ]
    customer = (
        rows.customer_row(rows.customer_of(profile))
        if profile
        else {
            "id": customer_id,
            "name": None,
            "email": None,
            "phone": None,
            "locale": "en",
            "tier": "standard",
            "lifetime_value": Decimal(0),
            "channel": None,
            "attributes": {},
        }
    )
    return {
        "customer": customer,
        "lifetime_value": customer["lifetime_value"],
        "compensation_30d": {"amount": sum(granted, Decimal(0)), "count": len(granted)},
        "cases": [rows.case_row(rows.case_of(r)) for r in cases],
        "messages_sent": [dict(r._mapping) for r in sent],
        "messages_received": [
            {
                "id": r.id,
                "at": r.occurred_at,
                "subject_id": r.subject_id,
                "text": str(r.attributes.get("text", "")),
                "channel": r.attributes.get("channel"),
            }
            for r in received
        ],
        "compensations": [rows.compensation_row(rows.compensation_of(r)) for r in comps],
        "surveys": [
            {
                "id": r.id,
                "at": r.occurred_at,
                "score": r.attributes.get("score"),
                "kind": r.attributes.get("kind", "csat"),
                "case_id": r.attributes.get("case_id"),
                "comment": r.attributes.get("comment"),
            }
            for r in answers
        ],
        "truncated": more_cases or more_sent or more_received or more_answers or more_comps,
    }
