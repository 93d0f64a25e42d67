"""Failures as the customer lives them, and what some of them do about it.

A failure is a late delivery (more than 15 minutes past the promise), an order that never
arrives, or an item issue. Its `harm` is the customer's satisfaction right after it (1-5),
before any recovery: on-time orders sit around 4.3, and harm falls steadily with lateness, the
shape of the Olist reviews (about 2.5 of 5 for late deliveries against 4.3 on time). A share of
failed customers write in (more the worse it was), some rage-click the tracking page.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from random import Random
from typing import Any

from makegood.entrypoints.demo.orders import GRACE, Order
from makegood.entrypoints.demo.phrasebook import complaint
from makegood.entrypoints.demo.record import MINUTE, Clock, Timed, between, event

ON_TIME_SATISFACTION = 4.3
ISSUE_HARM = {"missing_item": 2.0, "wrong_item": 2.2, "damaged_item": 2.1}
NEVER_ARRIVED_HARM = 1.3
CHANNELS = ("chat", "email", "app")


@dataclass(frozen=True, slots=True)
class Failure:
    order_id: str
    kind: str  # late_delivery | never_arrived | missing_item | wrong_item | damaged_item
    at: int  # when it became visible: the grace deadline passed, or the issue was reported
    harm: float
    value: int  # the order's value in cents


def failures_of(order: Order) -> list[Failure]:
    found = []
    if order.outcome == "cancelled_by_business":
        found.append(
            # an incident may cancel it before the promise is even due
            Failure(
                order.id,
                "never_arrived",
                min(order.done, order.promised + GRACE),
                NEVER_ARRIVED_HARM,
                order.value,
            )
        )
    elif order.outcome == "delivered" and order.lateness > GRACE:
        harm = max(1.3, 2.9 - order.lateness / MINUTE / 38)
        found.append(Failure(order.id, "late_delivery", order.promised + GRACE, harm, order.value))
    if order.issue is not None:
        found.append(
            Failure(
                order.id,
                order.issue.kind,
                order.issue.at,
                ISSUE_HARM[order.issue.kind],
                order.value,
            )
        )
    return found


def _write_chance(failure: Failure) -> float:
    if failure.kind == "late_delivery":
        return 0.15 + min(0.3, (3.0 - failure.harm) / 4)
    return 0.55 if failure.kind == "never_arrived" else 0.4


def _moment(rng: Random, order: Order, failure: Failure) -> tuple[int, str, int]:
    """(when, situation, minutes late to mention) of a complaint."""
    late_minutes = order.lateness // MINUTE
    if failure.kind == "never_arrived":
        waited = between(rng, 20, 40)
        if rng.random() < 0.5 and order.promised + waited * MINUTE < order.done:
            return order.promised + waited * MINUTE, "waiting", waited
        since_placed = (order.done - order.placed) // MINUTE
        return order.done + between(rng, 2, 30) * MINUTE, "cancelled", since_placed
    if failure.kind == "late_delivery":
        if late_minutes >= 25 and rng.random() < 0.5:
            waited = between(rng, 15, min(late_minutes - 2, 60))
            return order.promised + waited * MINUTE, "waiting", waited
        return order.done + between(rng, 2, 40) * MINUTE, "late", late_minutes
    return failure.at + between(rng, 0, 20) * MINUTE, failure.kind, late_minutes


def voice(
    rng: Random,
    order: Order,
    failure: Failure,
    earlier: int,
    clock: Clock,
    tally: Counter[str],
) -> list[Timed]:
    """The customer's reactions to one failure: maybe a message, maybe rage clicks.

    `earlier` is how many failures this customer already had today: repeats make churn talk.
    """
    events: list[Timed] = []
    cid, oid = order.customer.id, order.id
    if rng.random() < _write_chance(failure):
        at, situation, minutes = _moment(rng, order, failure)
        churn = 0.02 + 0.05 * (3.0 - failure.harm) + (0.10 if earlier else 0.0)
        u = rng.random()
        mood = "churn" if u < churn else "angry" if u < churn + 0.4 else "neutral"
        item = order.issue.item if order.issue is not None else "order"
        text = complaint(rng, order.customer.locale, situation, mood, oid, minutes, item)
        attributes = {"text": text, "channel": rng.choice(CHANNELS)}
        events.append(
            (
                at,
                event(
                    f"{oid}:{failure.kind}:msg",
                    "message.received",
                    clock.iso(at),
                    cid,
                    oid,
                    attributes,
                ),
            )
        )
        tally["customer_messages"] += 1
        tally[f"messages_{mood}"] += 1
    if failure.kind == "late_delivery" and rng.random() < 0.05:
        at = order.promised + between(rng, 5, 25) * MINUTE
        if at < order.done:
            signal: dict[str, Any] = {
                "signal": "rage_click",
                "count": between(rng, 6, 30),
                "page": "order_tracking",
            }
            events.append(
                (at, event(f"{oid}:rage", "behavior.signal", clock.iso(at), cid, oid, signal))
            )
            tally["rage_clicks"] += 1
    return events


def fidget(rng: Random, order: Order, clock: Clock, tally: Counter[str]) -> list[Timed]:
    """Rage clicks that are not a service failure (a slow checkout page, an impatient thumb)."""
    if rng.random() >= 0.001:
        return []
    at = order.placed - between(rng, 1, 5) * MINUTE
    if at < 0:
        return []
    attributes = {"signal": "rage_click", "count": between(rng, 5, 9), "page": "checkout"}
    tally["rage_clicks"] += 1
    return [
        (
            at,
            event(
                f"{order.id}:fidget",
                "behavior.signal",
                clock.iso(at),
                order.customer.id,
                None,
                attributes,
            ),
        )
    ]
