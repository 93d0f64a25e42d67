"""Orders over the day: when they are placed, what is promised, when (and whether) they arrive.

Demand follows a lunch and a dinner peak. Promises are 25-50 minutes after placement. Lateness
(delivery minus promise) is a mixture: ~80 % early or on time, ~10 % up to 15 minutes late,
~8 % later than that with an exponential tail (mean 32.5 min past the grace period, so ~2 % of
all orders are more than an hour late), ~0.4 % never arrive and are cancelled by the business,
~1 % are cancelled by the customer. The evening incident comes on top: in one area the couriers
stop for ~40 minutes, and every order in flight there waits for them to come back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate
from random import Random
from typing import Any

from makegood.entrypoints.demo.population import Customer, Merchant
from makegood.entrypoints.demo.record import (
    HOUR,
    MINUTE,
    Clock,
    Timed,
    basket,
    between,
    event,
    money,
)

CUSTOMER_CANCEL = 0.010
NEVER_ARRIVES = 0.004
LATE_TAIL = 0.08  # later than promise + 15 min, before the incident
TAIL_MEAN = 32.5 * MINUTE
SLIGHTLY_LATE = 0.10  # 0-15 min after the promise: within grace
GRACE = 15 * MINUTE
ITEM_ISSUE = 0.025
ISSUES = ("missing_item", "wrong_item", "damaged_item")
ISSUE_WEIGHTS = (0.5, 0.25, 0.25)
MENU = (
    "margherita pizza",
    "cheeseburger",
    "fries",
    "salmon nigiri",
    "pad thai",
    "chicken curry",
    "bacalhau à brás",
    "pastel de nata",
    "caesar salad",
    "falafel wrap",
    "gyoza",
    "soft drink",
    "francesinha",
    "poke bowl",
    "garlic naan",
    "tiramisu",
)
CLOSE_BEFORE_END = 45 * MINUTE  # no new orders in the last minutes of the day
LUNCH, DINNER = 12.75, 19.75  # local hours of the demand peaks


@dataclass(frozen=True, slots=True)
class Incident:
    area: str
    start: int
    end: int
    alert_down: int  # monitoring notices a few minutes late...
    alert_restored: int  # ...and a little after the couriers are back


@dataclass(frozen=True, slots=True)
class ItemIssue:
    kind: str
    item: str
    value: int  # cents
    at: int


@dataclass(slots=True)  # not frozen: frozen __init__ costs a third of the generation time
class Order:
    id: str
    customer: Customer
    merchant: Merchant
    placed: int
    promised: int
    value: int  # cents
    outcome: str  # delivered | cancelled_by_customer | cancelled_by_business
    done: int  # delivery or cancellation time
    in_incident: bool
    issue: ItemIssue | None

    @property
    def lateness(self) -> int:
        return self.done - self.promised

    @property
    def area(self) -> str:
        return self.customer.area


def _demand(hour: float) -> float:
    lunch = math.exp(-(((hour - LUNCH) / 1.0) ** 2) / 2)
    dinner = math.exp(-(((hour - DINNER) / 1.15) ** 2) / 2)
    return 0.12 + 1.0 * lunch + 1.4 * dinner


def placement_times(rng: Random, start: datetime, span: int, count: int) -> list[int]:
    """`count` sorted placement seconds, following the lunch and dinner peaks."""
    minutes = max(1, (span - CLOSE_BEFORE_END) // MINUTE)
    first = start.hour + start.minute / 60
    cum = list(accumulate(_demand((first + m / 60) % 24) for m in range(minutes)))
    picked = rng.choices(range(minutes), cum_weights=cum, k=count)
    return sorted(m * MINUTE + rng.randrange(MINUTE) for m in picked)


def plan_incident(rng: Random, start: datetime, span: int, areas: tuple[str, ...]) -> Incident:
    """One area's couriers stop for ~40 minutes at the dinner peak (or late in the day)."""
    evening = start.replace(hour=19, minute=0, second=0, microsecond=0)
    offset = int((evening - start) / timedelta(seconds=1)) + between(rng, 0, 20) * MINUTE
    if not HOUR <= offset <= span - 2 * HOUR:
        offset = int(span * 0.7)
    duration = between(rng, 38, 43) * MINUTE
    return Incident(
        area=rng.choice(areas),
        start=offset,
        end=offset + duration,
        alert_down=offset + between(rng, 3, 6) * MINUTE,
        alert_restored=offset + duration + between(rng, 1, 3) * MINUTE,
    )


def _natural_outcome(rng: Random, placed: int, promised: int) -> tuple[str, int]:
    u = rng.random()
    if u < CUSTOMER_CANCEL:
        return "cancelled_by_customer", placed + between(rng, 1, 8) * MINUTE
    if u < CUSTOMER_CANCEL + NEVER_ARRIVES:
        return "cancelled_by_business", promised + between(rng, 45, 120) * MINUTE
    v = rng.random()
    if v < LATE_TAIL:
        late = GRACE + int(rng.expovariate(1 / TAIL_MEAN))
    elif v < LATE_TAIL + SLIGHTLY_LATE:
        late = between(rng, 0, GRACE)
    else:
        late = -between(rng, 0, GRACE)
    return "delivered", max(placed + 12 * MINUTE, promised + late)


def make_order(
    rng: Random,
    number: int,
    placed: int,
    customer: Customer,
    merchant: Merchant,
    incident: Incident,
) -> Order:
    promised = placed + between(rng, 25, 50) * MINUTE
    outcome, done = _natural_outcome(rng, placed, promised)
    hit = (
        customer.area == incident.area
        and outcome != "cancelled_by_customer"
        and placed < incident.end
        and done > incident.start
    )
    if hit:
        if rng.random() < 0.06:
            outcome, done = "cancelled_by_business", incident.end + between(rng, 0, 20) * MINUTE
        else:
            # couriers come back to a backlog: first in, first out, give or take
            backlog = incident.end + between(rng, 5, 35) * MINUTE
            outcome, done = "delivered", max(done, backlog)
    issue = None
    value = basket(rng)
    if outcome == "delivered" and rng.random() < ITEM_ISSUE:
        kind = rng.choices(ISSUES, weights=ISSUE_WEIGHTS)[0]
        issue = ItemIssue(
            kind=kind,
            item=rng.choice(MENU),
            value=min(value, between(rng, 300, 1500)),
            at=done + between(rng, 2, 40) * MINUTE,
        )
    return Order(
        id=f"o-{number:06d}",
        customer=customer,
        merchant=merchant,
        placed=placed,
        promised=promised,
        value=value,
        outcome=outcome,
        done=done,
        in_incident=hit,
        issue=issue,
    )


def _eta_update(rng: Random, order: Order, incident: Incident) -> tuple[int, int] | None:
    """(when, new eta) of an ETA update, or None: the business knows some delays ahead."""
    if order.outcome == "cancelled_by_customer":
        return None
    if order.outcome == "cancelled_by_business":
        if rng.random() < 0.3:  # false hope
            return order.promised - 5 * MINUTE, order.promised + 20 * MINUTE
        return None
    if order.in_incident:
        if rng.random() < 0.5:
            at = max(order.placed + MINUTE, incident.alert_down + between(rng, 5, 15) * MINUTE)
            return at, order.done + between(rng, -5, 5) * MINUTE
        return None
    chance = 0.35 if order.lateness > GRACE else 0.04
    if rng.random() >= chance:
        return None
    at = max(order.placed + 5 * MINUTE, order.promised - between(rng, 5, 15) * MINUTE)
    return at, order.done + between(rng, -4, 4) * MINUTE


def order_events(rng: Random, order: Order, clock: Clock, incident: Incident) -> list[Timed]:
    oid, cid = order.id, order.customer.id
    placed = {
        "promised_at": clock.iso(order.promised),
        "value": money(order.value),
        "currency": "EUR",
        "area": order.area,
        "merchant": order.merchant.id,
    }
    events: list[Timed] = [
        (
            order.placed,
            event(f"{oid}:placed", "order.placed", clock.iso(order.placed), cid, oid, placed),
        )
    ]
    eta = _eta_update(rng, order, incident)
    if eta is not None and order.placed < eta[0] < order.done:
        at, new_eta = eta
        attributes = {"eta": clock.iso(max(new_eta, at + MINUTE))}
        events.append(
            (at, event(f"{oid}:eta", "order.eta_updated", clock.iso(at), cid, oid, attributes))
        )
    if order.outcome == "delivered":
        events.append(
            (
                order.done,
                event(
                    f"{oid}:delivered",
                    "order.delivered",
                    clock.iso(order.done),
                    cid,
                    oid,
                    {"area": order.area},
                ),
            )
        )
    else:
        by = "customer" if order.outcome == "cancelled_by_customer" else "business"
        reason = "changed_mind" if by == "customer" else "courier_unavailable"
        events.append(
            (
                order.done,
                event(
                    f"{oid}:cancelled",
                    "order.cancelled",
                    clock.iso(order.done),
                    cid,
                    oid,
                    {"by": by, "reason": reason},
                ),
            )
        )
    if order.issue is not None:
        issue = order.issue
        problem: dict[str, Any] = {
            "issue": issue.kind.removesuffix("_item"),  # the vocabulary policies match
            "item": issue.item,
            "item_value": money(issue.value),
            "quantity": 1,
            "area": order.area,
            "merchant": order.merchant.id,
        }
        events.append(
            (
                issue.at,
                event(f"{oid}:issue", "order.item_issue", clock.iso(issue.at), cid, oid, problem),
            )
        )
    return events
