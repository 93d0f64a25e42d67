"""A replay is the engine on a store that writes nothing (`LogStore`): what it decides must be
exactly what the same engine decides and stores on every real store, for the same history.

Also: `makegood replay` counts what the engine decided (issue 10, point 24): a resolve step's
call to the business's own systems (the `action` channel) is a resolution request, not a
customer message (the daily cap's side of it is the store contract's
`test_messages_per_day_counts_customer_messages_per_customer_and_day`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import pytest

from makegood.adapters.policy_file import load_policy
from makegood.domain.rules import CompiledPolicy
from makegood.entrypoints.demo.simulator import SimulationSettings, Simulator
from makegood.service_layer.replay import LogStore, Spent, replay, replay_engine

from .conftest import StoreFactory, read_back
from .samples import exact

T = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def issues(count: int) -> list[dict[str, Any]]:
    """An item issue for each of `count` customers: each runs the shipped `item_problem`
    playbook (refund, apology, resolve with `refund_item`, follow-up)."""
    return [
        {
            "id": f"i{n}",
            "type": "order.item_issue",
            "occurred_at": (T + timedelta(minutes=n)).isoformat(),
            "customer_id": f"c{n}",
            "subject_id": f"o{n}",
            "attributes": {"issue": "missing", "item_value": "12.50"},
        }
        for n in range(count)
    ]


@cache
def demo_history() -> list[dict[str, Any]]:
    """The demo's mix (late and lost orders, item issues, tickets, surveys, an incident) over
    three weeks and a follow-up week, small enough to decide in about a second."""
    sim = Simulator(SimulationSettings(orders=1500, customers=300))
    return sim.advance(sim.horizon)


@pytest.mark.parametrize("count", [1, 3])
def test_replay_counts_resolution_requests_apart_from_messages(count: int) -> None:
    figures = replay(issues(count), load_policy()).figures
    assert figures["resolution_requests"] == count
    assert "refund_item" not in figures["messages_by_template"]
    assert figures["messages_by_template"]["apology"] == count


def test_a_replay_decides_what_every_store_stores(store_factory: StoreFactory) -> None:
    """The demo's history replayed on a `LogStore` and ingested into a real store (flushing
    and keeping customers as `makegood ingest` does, in smaller batches): the same figures,
    and the failures, cases, compensations and messages the one flush would write are,
    field by field, the rows the real store holds."""
    events, policy = demo_history(), load_policy()
    on_log = replay(events, policy)
    store = store_factory()
    on_store = replay(events, policy, store=store, batch_size=700)
    assert on_log.figures == on_store.figures
    assert on_log.figures["failures"] > 100 and on_log.figures["incidents"] >= 1
    assert on_log.figures["compensations_granted"] > 20 and on_log.figures["messages"] > 100
    decided, stored = on_log.decisions, read_back(store)
    assert decided is not None
    assert exact(decided.failures) == exact(stored.failures)
    assert exact(decided.cases) == exact(stored.cases)
    assert exact(decided.compensations) == exact(stored.compensations)
    # SQL stores write next_attempt_at = created_at (due at once); the engine leaves it unset
    assert exact({m.id: replace(m, next_attempt_at=None) for m in decided.outbox.values()}) == (
        exact({i: replace(m, next_attempt_at=None) for i, m in stored.outbox.items()})
    )


def test_duplicates_and_conflicts_are_told_apart_on_the_log() -> None:
    """The log is the one thing a `LogStore` keeps: the same id with the same payload is a
    duplicate, with another payload a conflict (never acted on)."""
    [event] = issues(1)
    other = {**event, "attributes": {"issue": "damaged", "item_value": "12.50"}}
    result = replay([event, event, other, event], load_policy())
    assert (result.accepted, result.rejected) == (1, 0)
    assert result.figures["failures"] == 1 and result.figures["compensations_granted"] == 1
    engine = replay_engine(LogStore(), load_policy(), keep_all=True)
    report = engine.ingest([event, event, other], flush=False)
    assert report.outcomes == ["accepted", "duplicate", "conflict"]


def test_a_log_store_refuses_to_be_read_after_its_one_flush(policy: CompiledPolicy) -> None:
    """An engine that wrote to a `LogStore` and went on would decide on state that was never
    stored: it fails loudly instead of deciding differently (the drift the replay store had)."""
    first, second = issues(2)
    engine = replay_engine(LogStore(), policy, keep_all=False)
    engine.ingest([first])  # flushes: the store is spent
    with pytest.raises(Spent):
        engine.ingest([second])


@pytest.fixture
def policy() -> CompiledPolicy:
    return load_policy()
