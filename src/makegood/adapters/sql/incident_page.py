"""One incident for the dashboard: who it reached (a page at a time), the messages sent and held
back, the compensation granted and waiting, and its timeline."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from makegood.adapters.sql import queries
from makegood.adapters.sql import schema as t
from makegood.domain.errors import NotFound

STAGES = {1: "declared", 2: "resolved"}


def incident_page(
    conn: sa.Connection, incident_id: str, page: int = 0, size: int = 50
) -> dict[str, Any]:
    """Raises NotFound for an unknown (or still forming) incident."""
    row = conn.execute(
        sa.select(t.incidents).where(
            t.incidents.c.id == incident_id, t.incidents.c.status != "forming"
        )
    ).first()
    if row is None:
        raise NotFound(f"no incident {incident_id!r}")
    out = t.outbox
    # the incident's messages are keyed "<incident>:<stage>:<customer>": a key range per stage
    messages: dict[str, dict[str, int]] = {}
    told: dict[int, set[str]] = {}
    for stage, name in STAGES.items():
        lo, hi = f"{incident_id}:{stage}:", f"{incident_id}:{stage};"
        counts = conn.execute(
            sa.select(out.c.status, sa.func.count())
            .where(out.c.key >= lo, out.c.key < hi)
            .group_by(out.c.status)
        ).all()
        messages[name] = {str(status): int(n) for status, n in counts}
        told[stage] = {
            key[len(lo) :]
            for key in conn.scalars(sa.select(out.c.key).where(out.c.key >= lo, out.c.key < hi))
        }
    affected = sorted(row.affected)
    reached = row.stage  # 1 declared, 2 resolved: the stages whose notices went out
    held_back = {
        STAGES[s]: len([c for c in affected if c not in told[s]]) for s in STAGES if s <= reached
    }
    comp = t.compensations
    money = conn.execute(
        sa.select(comp.c.status, comp.c.amount).where(comp.c.failure_id == incident_id)
    ).all()
    compensation: dict[str, dict[str, Any]] = {}
    for status, amount in money:
        slot = compensation.setdefault(str(status), {"count": 0, "amount": Decimal(0)})
        slot["count"] += 1
        slot["amount"] += Decimal(str(amount))
    shown = affected[page * size : (page + 1) * size]
    names = (
        dict(
            conn.execute(
                sa.select(t.customers.c.id, t.customers.c.name).where(t.customers.c.id.in_(shown))
            ).all()
        )
        if shown
        else {}
    )
    customers = [
        {
            "id": cid,
            "name": names.get(cid),
            "subjects": row.affected[cid],
            "told": [STAGES[s] for s in STAGES if cid in told[s]],
        }
        for cid in shown
    ]
    detail = queries.incident_detail(conn, incident_id)
    return {
        "incident": {k: v for k, v in detail.items() if k not in ("customers", "timeline")},
        "timeline": detail["timeline"],
        "messages": messages,
        "held_back": held_back,
        "compensation": compensation,
        "customers": customers,
        "total_customers": len(affected),
        "page": page,
        "pages": max(1, -(-len(affected) // size)),
    }
