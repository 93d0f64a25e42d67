"""How much to give, and whether it may be given now: formulas, budgets, empowerment tiers."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from makegood.domain.errors import ExpressionError
from makegood.domain.model import GRANTED
from makegood.domain.money import round_money, to_decimal
from makegood.domain.policy import Budgets, Empowerment
from makegood.domain.rules import CompiledAmount
from makegood.domain.world import World

ROLE_RANK = {"auto": 0, "agent": 1, "lead": 2, "admin": 3}
BUDGET_WINDOW = timedelta(days=30)


def compute_amount(amount: CompiledAmount, context: Mapping[str, Any]) -> Decimal:
    """The amount a formula gives in a context (``lateness``, ``order_value``, ``customer`` …)."""
    spec = amount.spec
    value = Decimal(0)
    if spec.fixed is not None:
        value = spec.fixed
    elif spec.percent is not None:
        value = to_decimal(context.get("order_value") or 0) * spec.percent / 100
    elif spec.item_value:
        value = to_decimal(context.get("item_value") or context.get("order_value") or 0)
    elif amount.bands:
        measure = (
            context.get("lateness")
            if isinstance(amount.bands[0][0], timedelta)
            else (context.get("order_value"))
        )
        if measure is not None:
            for threshold, band_amount in amount.bands:
                if measure >= threshold:
                    value = band_amount
    elif amount.expr is not None:
        try:
            value = to_decimal(amount.expr(context) or 0)
        except (TypeError, ExpressionError):
            value = Decimal(0)
    tier = (context.get("customer") or {}).get("tier")
    value *= spec.tier_multiplier.get(str(tier), Decimal(1))
    if spec.min is not None and value > 0:
        value = max(value, spec.min)
    if spec.max is not None:
        value = min(value, spec.max)
    return round_money(max(value, Decimal(0)))


def required_role(amount: Decimal, empowerment: Empowerment) -> str:
    """The least role allowed to grant `amount`."""
    if amount <= empowerment.auto:
        return "auto"
    if amount <= empowerment.agent:
        return "agent"
    if amount <= empowerment.lead:
        return "lead"
    return "admin"


def may_grant(role: str, amount: Decimal, empowerment: Empowerment) -> bool:
    return ROLE_RANK.get(role, -1) >= ROLE_RANK[required_role(amount, empowerment)]


@dataclass(frozen=True)
class BudgetCheck:
    ok: bool
    reason: str = ""
    remaining: Decimal = Decimal(0)


def check_budgets(
    world: World, budgets: Budgets, case_id: str, customer_id: str, amount: Decimal, now: datetime
) -> BudgetCheck:
    """Whether granting `amount` now keeps every hard limit; the tightest remaining if not."""
    day: date = now.date()
    # per case and customer: an incident is the "case" of every customer it tells, and each
    # of them has the per-case limit, not all of them together
    to_case = sum(
        (
            c.amount
            for c in world.compensations_of_case(case_id)
            if c.status == GRANTED and c.customer_id == customer_id
        ),
        Decimal(0),
    )
    limits = (
        ("per case", budgets.per_case - to_case),
        (
            "per customer in 30 days",
            budgets.per_customer_30d - world.granted_to_customer(customer_id, now - BUDGET_WINDOW),
        ),
        ("global per day", budgets.global_per_day - world.granted_on(day)),
    )
    name, remaining = min(limits, key=lambda item: item[1])
    if amount > remaining:
        return BudgetCheck(
            False,
            f"budget {name} would be exceeded (remaining {remaining})",
            max(remaining, Decimal(0)),
        )
    return BudgetCheck(True, remaining=remaining)


def assign_arm(customer_id: str, experiment: str, arms: tuple[tuple[str, Decimal], ...]) -> str:
    """Deterministic, stable assignment by hashing customer and experiment name into the weights."""
    digest = hashlib.sha256(f"{experiment}\x1f{customer_id}".encode()).digest()
    point = Decimal(int.from_bytes(digest[:8], "big")) / Decimal(2**64)
    total = sum((w for _, w in arms), Decimal(0))
    cumulative = Decimal(0)
    for name, weight in arms:
        cumulative += weight / total
        if point < cumulative:
            return name
    return arms[-1][0]
