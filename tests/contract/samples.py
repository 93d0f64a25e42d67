"""Sample state and short-hands for the contract tests: build domain objects with every field
set, write them through a session, load them back, and compare them exactly."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import fields, is_dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from makegood.domain.event import Event
from makegood.domain.message import OutboxMessage
from makegood.domain.model import Case, Compensation, Customer, Failure, Subject, Timer
from makegood.domain.policy import Budgets
from makegood.domain.world import Changes, Snapshot

T = datetime(2026, 11, 2, 12, 0, 0, 123456, tzinfo=UTC)
DAY = T.date()
BUDGETS = Budgets(global_per_day=Decimal(10))


def exact(value: Any) -> Any:
    """A form of `value` that differs whenever a store changed it: types, Decimal exponents,
    time zones and nested JSON included (dataclass equality would let ``5.0 == 5.00`` and
    naive-vs-aware slip through)."""
    if is_dataclass(value) and not isinstance(value, type):
        return (
            type(value).__name__,
            {f.name: exact(getattr(value, f.name)) for f in fields(value)},
        )
    if isinstance(value, dict):
        return {"dict": sorted((str(k), exact(v)) for k, v in value.items())}
    if isinstance(value, list | tuple):
        return [exact(v) for v in value]
    if isinstance(value, datetime):
        assert value.utcoffset() == timedelta(0), f"not aware UTC: {value!r}"
        return ("datetime", value.isoformat())
    if isinstance(value, Decimal):
        return ("Decimal", str(value))
    return (type(value).__name__, value)


# building and writing state ---------------------------------------------------------------------
def customer(id: str = "c1") -> Customer:
    return Customer(
        id,
        "Ana Łópez",
        f"{id}@example.com",
        "+34 600 000 000",
        "es",
        "gold",
        Decimal("1234.5600"),
        "email",
        {
            "segment": "b2b",
            "tags": ["vip", "late-night"],
            "opt_in": True,
            "address": {"city": "Sevilla", "geo": [37.38, -5.98], "floor": None},
            "orders": 17,
            "rating": 4.5,
        },
    )


def subject(id: str = "o1", customer_id: str = "c1") -> Subject:
    return Subject(
        id,
        customer_id,
        {
            "promised_at": T + timedelta(minutes=30),
            "value": Decimal("23.90"),
            "currency": "EUR",
            "items": [{"sku": "A1", "qty": 2}, {"sku": "B7"}],
        },
        {"order.placed": T, "order.eta_updated": T + timedelta(minutes=10)},
    )


def case(id: str = "k1", customer_id: str = "c1", subject_key: str = "o1") -> Case:
    return Case(
        id,
        customer_id,
        subject_key,
        "escalated",
        "major",
        "late_delivery",
        opened_at=T,
        updated_at=T + timedelta(minutes=5),
        needs_person=True,
        owner="agent:maria",
        collaborators=["agent:li", "lead:sam"],
        sla_due_at=T + timedelta(hours=4),
        acknowledged_at=T + timedelta(minutes=1),
        resolved_at=T + timedelta(minutes=50),
        closed_at=T + timedelta(hours=3),
        survey_score=2,
        reopened=1,
        follow_up=True,
        experiment={"apology_tone": "warm", "voucher": "b"},
    )


def failure(
    id: str = "f1",
    customer_id: str = "c1",
    case_id: str = "k1",
    detected_at: datetime = T,
    resolved_at: datetime | None = None,
) -> Failure:
    return Failure(
        id,
        f"late_delivery:{id}",
        "late_delivery",
        customer_id,
        "o1",
        case_id,
        "process",
        "late_delivery",
        "major",
        occurred_at=detected_at,
        detected_at=detected_at,
        evidence={
            "deadline": T.isoformat(),
            "event_id": "e1",
            "nested": {"list": [1, 2.5, "x", None], "ok": False},
        },
        lateness_s=2100.25,
        resolved_at=resolved_at,
        playbook="late_delivery",
    )


def compensation(
    id: str = "v1", customer_id: str = "c1", created_at: datetime = T, status: str = "granted"
) -> Compensation:
    return Compensation(
        id,
        f"{id}:resolved:1",
        "k1",
        customer_id,
        "f1",
        "voucher",
        Decimal("7.50"),
        "EUR",
        status,
        "auto",
        "late_delivery (major)",
        created_at=created_at,
        decided_at=created_at + timedelta(seconds=1),
        decided_by="auto",
        code=f"CODE-{id}",
        expires_at=created_at + timedelta(days=30),
    )


def message(
    id: str,
    customer_id: str = "c1",
    created_at: datetime = T,
    channel: str = "email",
    key: str | None = None,
    template: str = "apology",
    next_attempt_at: datetime | None = None,
) -> OutboxMessage:
    return OutboxMessage(
        id,
        key or f"key-{id}",
        "k1",
        customer_id,
        channel,
        template,
        "es",
        f"{customer_id}@example.com",
        {"customer": {"name": "Ana"}, "compensation": {"amount": "7.50"}, "lines": [1, 2]},
        created_at,
        next_attempt_at=next_attempt_at,
    )


def timer(key: str, due_at: datetime, **data: Any) -> Timer:
    return Timer(key, due_at, "deadline", "c1", "o1", None, {"detector": "late_delivery", **data})


def changes_of(
    *objects: Any,
    outbox: Iterable[OutboxMessage] = (),
    timers: Iterable[Timer] = (),
    done: Iterable[str] = (),
    spend: dict[date, Decimal] | None = None,
) -> tuple[Changes, Snapshot]:
    changes, snapshot = Changes(), Snapshot()
    for o in objects:
        name = {
            Customer: "customers",
            Subject: "subjects",
            Case: "cases",
            Failure: "failures",
            Compensation: "compensations",
        }[type(o)]
        getattr(snapshot, name)[o.id] = o
        getattr(changes, name).add(o.id)
    changes.outbox.extend(outbox)
    changes.timers.update({x.key: x for x in timers})
    changes.timers_done.update(done)
    changes.global_spend.update(spend or {})
    return changes, snapshot


def write(store: Any, *objects: Any, budgets: Budgets = BUDGETS, **kw: Any) -> None:
    changes, snapshot = changes_of(*objects, **kw)
    with store.session() as s:
        s.save(changes, snapshot, budgets)


def load(
    store: Any,
    customers: Collection[str] = (),
    subjects: Collection[str] = (),
    cases: Collection[str] = (),
    since: datetime = T - timedelta(days=30),
    days: Collection[date] = (),
) -> Snapshot:
    with store.session() as s:
        return s.load(set(customers), set(subjects), set(cases), since, set(days))


def due(store: Any, until: datetime, limit: int = 1000) -> list[Timer]:
    with store.session() as s:
        return s.due_timers(until, limit)


def event(id: str, customer_id: str = "c1", **attributes: Any) -> Event:
    return Event(id, "order.placed", T, customer_id, "o1", attributes)


def spent(store: Any, *days: date) -> dict[date, Decimal]:
    return load(store, customers={"c1"}, days=set(days)).global_spent
