"""The World the engine keeps between batches (issue 12): what it must hold to decide as a
fresh load would."""

from __future__ import annotations

from datetime import UTC, date, datetime

from makegood.domain.message import OutboxMessage
from makegood.domain.model import Case, Subject
from makegood.domain.world import Snapshot, World

DAY = date(2026, 3, 2)
T = datetime(2026, 3, 2, 12, tzinfo=UTC)


def message(key: str, customer: str = "c1") -> OutboxMessage:
    return OutboxMessage(f"m-{key}", key, None, customer, "email", "apology", "en", None, {}, T)


def test_a_message_key_queued_again_is_neither_queued_nor_counted_twice() -> None:
    """A step decided again (its message's key already queued, in this batch or stored) is not
    queued again and does not count toward the daily cap a second time: kept state and a
    fresh load count the same messages."""
    world = World(Snapshot(message_keys={"c1": {"stored"}}, messages_per_day={("c1", DAY): 1}))
    world.enqueue(message("stored"), DAY)
    world.enqueue(message("new"), DAY)
    world.enqueue(message("new"), DAY)
    assert [m.key for m in world.changes.outbox] == ["new"]
    assert world.messages_on("c1", DAY) == 2


def test_evicting_a_customer_forgets_all_of_its_state_and_nothing_else() -> None:
    world = World(Snapshot())
    for customer in ("c1", "c2"):
        world.customer(customer)
        world.touch_subject(f"{customer}-o1", customer)
        world.add_case(
            Case(f"k-{customer}", customer, f"{customer}-o1", "open", "minor", "late", T, T)
        )
        world.enqueue(message(f"{customer}-m", customer), DAY)
    assert world.evict(["c1"]) == {"c1-o1"}
    assert set(world.s.customers) == {"c2"} and set(world.s.subjects) == {"c2-o1"}
    assert world.case_for("c1", "c1-o1") is None and world.cases_of("c1") == []
    assert world.case_for("c2", "c2-o1") is not None
    assert set(world.s.message_keys) == {"c2"}
    assert world.messages_on("c1", DAY) == 0 and world.messages_on("c2", DAY) == 1
    assert isinstance(world.subject("c2-o1"), Subject)
