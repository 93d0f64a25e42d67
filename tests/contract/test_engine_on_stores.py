"""The engine gives the same cases, compensations and messages on every store: one small
wall-time scenario with the shipped policy, run on the store under test and on a reference
in-memory store, compared field by field."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import ModuleType
from typing import Any

from makegood.service_layer.engine import Engine, IngestReport
from makegood.testing import FrozenClock, InMemoryStore

from .conftest import StoreFactory, read_back
from .samples import exact


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def scenario(engine: Engine, clock: FrozenClock, shared: ModuleType) -> list[IngestReport]:
    """Built with tests/conftest.py's `ev()`; wall time, moved by hand."""
    ev, t0 = shared.ev, shared.T0
    promised = t0 + minutes(30)
    clock.set(t0)
    reports = [
        engine.ingest(
            [
                ev(
                    "e0",
                    "customer.upserted",
                    t0,
                    "c1",
                    name="Ana",
                    email="ana@example.com",
                    tier="gold",
                    locale="es",
                    lifetime_value="410.50",
                ),
                ev("e1", "order.placed", t0, "c1", "o1", promised_at=promised, value="23.90"),
                ev("e2", "order.placed", t0, "c2", "o2", promised_at=promised),
            ]
        )
    ]
    clock.set(t0 + minutes(25))
    reports.append(engine.ingest([ev("e3", "order.delivered", clock.now(), "c2", "o2")]))
    clock.set(promised + minutes(15))  # the late_delivery deadline
    reports.append(engine.tick())
    clock.set(promised + minutes(35))
    reports.append(
        engine.ingest(
            [
                ev("e4", "order.delivered", clock.now(), "c1", "o1"),
                ev("e1", "order.placed", t0, "c1", "o1", promised_at=promised, value="23.90"),
                {
                    "id": "bad",
                    "type": "order.placed",
                    "occurred_at": "yesterday",
                    "customer_id": "c3",
                },
                ev(
                    "e5",
                    "order.placed",
                    clock.now(),
                    "c3",
                    "o3",
                    promised_at=clock.now() + minutes(40),
                ),
            ],
            source="orders.jsonl",
            lines=[7, 8, 9, 10],
        )
    )
    return reports


def outcome(store: Any) -> dict[str, Any]:
    """What the scenario left in `store`, in a form that compares exactly."""
    stored = read_back(store)
    with store.session() as s:
        timers = s.due_timers(datetime(2100, 1, 1, tzinfo=UTC), 1000)
    return {
        "events": stored.event_ids,
        "quarantine": stored.quarantine,
        "customers": exact(stored.customers),
        "subjects": exact(stored.subjects),
        "cases": exact(stored.cases),
        "failures": exact(stored.failures),
        "compensations": exact(stored.compensations),
        # SQL stores write next_attempt_at = created_at (due at once); memory leaves it unset
        "outbox": exact({i: replace(m, next_attempt_at=None) for i, m in stored.outbox.items()}),
        "timeline": exact(stored.timeline),
        "timers": exact(timers),
    }


def test_the_engine_decides_alike_on_every_store(
    store_factory: StoreFactory,
    make_engine: Callable[..., Engine],
    clock: FrozenClock,
    shared: ModuleType,
) -> None:
    reference = InMemoryStore()
    expected_reports = scenario(make_engine(reference), clock, shared)
    store = store_factory()
    reports = scenario(make_engine(store), clock, shared)
    assert reports == expected_reports

    placed, on_time, tick, late = reports
    assert (placed.accepted, on_time.accepted, tick.timers_fired, tick.failures) == (3, 1, 1, 1)
    assert (late.accepted, late.duplicates) == (2, 1)
    assert [(i, r.field) for i, r in late.rejected] == [(2, "occurred_at")]

    stored = read_back(store)
    assert stored.event_ids == ["e0", "e1", "e2", "e3", "e4", "e5"]
    [bad] = stored.quarantine
    assert (bad.source, bad.line, bad.event_id, bad.field) == (
        "orders.jsonl",
        9,
        "bad",
        "occurred_at",
    )
    [failure] = stored.failures.values()
    promised = shared.T0 + minutes(30)
    assert (failure.customer_id, failure.category, failure.detected_at) == (
        "c1",
        "late_delivery",
        promised + minutes(15),
    )
    assert failure.lateness_s == 35 * 60
    [case] = stored.cases.values()
    assert (case.id, case.state) == (failure.case_id, "resolved")
    [voucher] = stored.compensations.values()
    # 4.00 for 30 minutes late, times 1.5 for a gold customer
    assert (voucher.kind, voucher.amount, voucher.status, voucher.case_id) == (
        "voucher",
        Decimal("6.00"),
        "granted",
        case.id,
    )
    assert sorted(m.template for m in stored.outbox.values()) == ["acknowledge", "apology"]
    assert {m.recipient for m in stored.outbox.values()} == {"ana@example.com"}

    assert outcome(store) == outcome(reference)
