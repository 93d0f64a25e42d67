"""What personal recovery did on the demo day (issue 15): messages in each tone of the policy,
call tasks for people, the channels messages went by, and what the compensation formulas that
read the customer's lifetime value and recent failures gave."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from rich.console import Console

from makegood.adapters.sql import schema as t
from makegood.domain.message import ACTION
from makegood.domain.rules import CompiledPolicy

CUSTOMER_INPUTS = frozenset({"lifetime_value", "recent_failures"})
RECENT = timedelta(days=30)
CENT = Decimal("0.01")


def personal_figures(c: sa.Connection, policy: CompiledPolicy) -> dict[str, Any]:
    o, tl = t.outbox.c, t.timeline.c
    by_template: dict[str, int] = {
        template: count
        for template, count in c.execute(
            sa.select(o.template, sa.func.count()).group_by(o.template)
        )
    }
    tones = {
        tone.spec.name: {
            "messages": sum(by_template.get(v, 0) for v in set(tone.spec.templates.values())),
            "templates": sorted(set(tone.spec.templates.values())),
            "signed_by": tone.spec.signed_by.name if tone.spec.signed_by else None,
        }
        for tone in policy.tones
    }
    channels: dict[str, int] = {
        channel: count
        for channel, count in c.execute(
            sa.select(o.channel, sa.func.count()).where(o.channel != ACTION).group_by(o.channel)
        )
    }
    calls = c.scalar(sa.select(sa.func.count()).where(tl.kind == "call_requested"))
    return {
        "tones": tones,
        "channels": channels,
        "calls": calls or 0,
        "formula": _formula_figures(c, policy),
    }


def _formula_figures(c: sa.Connection, policy: CompiledPolicy) -> dict[str, Any]:
    """Grants by steps whose amount reads the customer's figures, by how many other failed
    orders the customer had in the 30 days before: how many, and the average amount."""
    reading = {
        (playbook.spec.name, step.index)
        for playbook in policy.playbooks
        for step in playbook.steps
        if step.amount is not None
        and step.amount.expr is not None
        and step.amount.expr.names & CUSTOMER_INPUTS
    }
    if not reading:
        return {}
    comp, fail = t.compensations.c, t.failures.c
    rows = c.execute(
        sa.select(comp.key, comp.customer_id, comp.case_id, comp.amount, comp.created_at)
        .where(comp.status == "granted")
        .order_by(comp.created_at)
    ).all()
    playbook_of = {id_: playbook for id_, playbook in c.execute(sa.select(fail.id, fail.playbook))}
    failures: dict[str, list[tuple[Any, str]]] = defaultdict(list)
    for customer, case, detected in c.execute(
        sa.select(fail.customer_id, fail.case_id, fail.detected_at)
    ):
        failures[customer].append((detected, case))
    groups: dict[str, list[Decimal]] = defaultdict(list)
    for key, customer, case, amount, created in rows:
        parts = key.split(":")  # <failure>:<on>:<step>, failure ids hold no colon
        if (playbook_of.get(parts[0]), _int(parts[-1])) not in reading:
            continue
        earlier = {
            other
            for detected, other in failures[customer]
            if other != case and created - RECENT < detected <= created
        }
        groups[_band(len(earlier))].append(Decimal(amount))
    return {
        "reads": sorted(CUSTOMER_INPUTS),
        "by_recent_failures": {
            band: {
                "grants": len(amounts),
                "average": str((sum(amounts, Decimal(0)) / len(amounts)).quantize(CENT)),
            }
            for band, amounts in sorted(groups.items())
        },
    }


def _int(text: str) -> int:
    return int(text) if text.isdigit() else -1


def _band(count: int) -> str:
    return "2+" if count >= 2 else str(count)


def show_personal(console: Console, figures: dict[str, Any], currency: str) -> None:
    console.print("\n[bold]Personal recovery[/bold]")
    for name, tone in figures["tones"].items():
        signed = f", signed by {tone['signed_by']}" if tone["signed_by"] else ""
        console.print(
            f"  tone {name}: {tone['messages']:,} messages ({', '.join(tone['templates'])}{signed})"
        )
    channels = ", ".join(f"{n:,} by {ch}" for ch, n in sorted(figures["channels"].items()))
    console.print(
        f"  messages: {channels or 'none'}; call tasks for a person: {figures['calls']:,}"
    )
    formula = figures["formula"]
    if formula:
        bands = " · ".join(
            f"{band}: {g['grants']:,} grants, {g['average']} {currency} on average"
            for band, g in formula["by_recent_failures"].items()
        )
        console.print(
            f"  formulas reading {' and '.join(formula['reads'])}, by the customer's other "
            f"failed orders in the 30 days before: {bands or 'no grants'}",
            highlight=False,
        )
