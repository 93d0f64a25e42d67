"""The `OutboxStore` contract (what the dispatcher sees): the SQL stores and
`makegood.testing.InMemoryOutbox` claim, lease and mark messages alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from makegood.adapters.sql import rows
from makegood.adapters.sql import schema as t
from makegood.domain.message import DEAD, PENDING, SENT, Delivery, OutboxMessage, Rendered
from makegood.domain.world import Changes, Snapshot
from makegood.service_layer.dispatch import Dispatcher
from makegood.testing import FrozenClock, InMemoryOutbox

from .conftest import POSTGRES, read_back
from .samples import BUDGETS, T, message

MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)


@dataclass
class Outbox:
    """An `OutboxStore` with the two things the port leaves to others: adding and reading."""

    store: Any

    def add(self, *messages: OutboxMessage) -> None:
        if isinstance(self.store, InMemoryOutbox):
            for m in messages:
                self.store.add(m)
            return
        with self.store.session() as s:  # as the engine writes them: in a batch's changes
            s.save(Changes(outbox=list(messages)), Snapshot(), BUDGETS)

    def get(self, message_id: str) -> OutboxMessage:
        if isinstance(self.store, InMemoryOutbox):
            return self.store.get(message_id)
        with self.store.engine.connect() as c:
            row = c.execute(sa.select(t.outbox).where(t.outbox.c.id == message_id)).one()
            return rows.outbox_of(row)

    def claim(self, now: Any, lease_until: Any, limit: int = 100) -> list[str]:
        return [m.id for m in self.store.claim(now, lease_until, limit)]


@pytest.fixture(params=["memory", "sqlite", POSTGRES])
def outbox(request: pytest.FixtureRequest) -> Outbox:
    if request.param == "memory":
        return Outbox(InMemoryOutbox())
    return Outbox(request.getfixturevalue(f"{request.param}_database").store())


def test_claim_leases_due_messages_oldest_first(outbox: Outbox) -> None:
    outbox.add(
        message("m1", created_at=T - 3 * MINUTE),
        message("m2", created_at=T - 2 * MINUTE),
        message("m3", created_at=T - MINUTE),
        message("m4", created_at=T - MINUTE, next_attempt_at=T + timedelta(hours=1)),
    )
    assert outbox.claim(T, T + 5 * MINUTE, limit=2) == ["m1", "m2"]
    assert outbox.claim(T, T + 5 * MINUTE) == ["m3"]  # the leased ones are not handed out again
    assert outbox.claim(T + 4 * MINUTE, T + 9 * MINUTE) == []
    claimed = outbox.store.claim(T + 5 * MINUTE, T + 10 * MINUTE, 10)  # the lease ran out
    assert [m.id for m in claimed] == ["m1", "m2", "m3"]
    assert claimed[0].context == message("m1").context
    assert claimed[0].key == "key-m1" and claimed[0].template == "apology"
    assert outbox.get("m1").next_attempt_at == T + 10 * MINUTE
    assert outbox.claim(T + timedelta(hours=1), T + timedelta(hours=2)) == ["m1", "m2", "m3", "m4"]


def test_a_second_message_with_the_same_key_is_ignored(outbox: Outbox) -> None:
    outbox.add(message("m1", created_at=T - MINUTE, key="k"))
    outbox.add(message("m2", created_at=T - MINUTE, key="k"))
    assert outbox.claim(T, T + MINUTE) == ["m1"]


def test_a_sent_message_is_not_claimed_again(outbox: Outbox) -> None:
    outbox.add(message("m1", created_at=T - MINUTE))
    assert outbox.claim(T, T + MINUTE) == ["m1"]
    outbox.store.mark_sent("m1", T + timedelta(seconds=5), "250 OK")
    sent = outbox.get("m1")
    assert (sent.status, sent.attempts, sent.sent_at, sent.last_error) == (
        SENT,
        1,
        T + timedelta(seconds=5),
        None,
    )
    assert outbox.claim(T + timedelta(days=1), T + timedelta(days=2)) == []


def test_a_failed_message_is_retried_at_its_time(outbox: Outbox) -> None:
    outbox.add(message("m1", created_at=T - MINUTE))
    assert outbox.claim(T, T + MINUTE) == ["m1"]
    outbox.store.mark_failed("m1", T, "451 try later", T + 10 * MINUTE)
    failed = outbox.get("m1")
    assert (failed.status, failed.attempts, failed.last_error) == (PENDING, 1, "451 try later")
    assert outbox.claim(T + 9 * MINUTE, T + 11 * MINUTE) == []
    assert outbox.claim(T + 10 * MINUTE, T + 11 * MINUTE) == ["m1"]
    outbox.store.mark_failed("m1", T + 10 * MINUTE, "451 again", T + 30 * MINUTE)
    outbox.store.mark_sent("m1", T + 30 * MINUTE, "250 OK")  # marked without a claim: allowed
    done = outbox.get("m1")
    assert (done.status, done.attempts, done.last_error) == (SENT, 3, None)


def test_a_dead_message_is_never_claimed(outbox: Outbox) -> None:
    outbox.add(message("m1", created_at=T - MINUTE), message("m2", created_at=T - MINUTE))
    assert outbox.claim(T, T + MINUTE) == ["m1", "m2"]
    outbox.store.mark_failed("m1", T, "550 no such user", None)
    dead = outbox.get("m1")
    assert (dead.status, dead.attempts, dead.last_error) == (DEAD, 1, "550 no such user")
    assert outbox.claim(T + timedelta(days=30), T + timedelta(days=31)) == ["m2"]


def test_sql_stores_log_each_delivery_in_the_case_timeline(outbox: Outbox) -> None:
    if isinstance(outbox.store, InMemoryOutbox):
        pytest.skip("InMemoryOutbox records attempts in .history, it has no case timeline")
    outbox.add(message("m1", created_at=T - MINUTE), message("m2", created_at=T - MINUTE))
    outbox.claim(T, T + MINUTE)
    outbox.store.mark_failed("m1", T, "451", T + MINUTE)
    outbox.store.mark_sent("m1", T + MINUTE, "250 OK")
    outbox.store.mark_failed("m2", T, "550", None)
    logged = [
        (e.case_id, e.kind, e.actor, e.data["message"], e.data["attempt"])
        for e in read_back(outbox.store).timeline
    ]
    assert logged == [
        ("k1", "message_retry", "dispatcher", "m1", 1),
        ("k1", "message_sent", "dispatcher", "m1", 2),
        ("k1", "message_dead", "dispatcher", "m2", 1),
    ]


def test_renewing_extends_the_lease_of_pending_messages_only(outbox: Outbox) -> None:
    outbox.add(message("m1", created_at=T), message("m2", created_at=T))
    assert outbox.claim(T, T + 30 * SECOND) == ["m1", "m2"]
    outbox.store.mark_sent("m1", T + SECOND, "250 ok")
    assert outbox.store.renew(["m1", "m2"], T + 30 * SECOND, T + 60 * SECOND) == {"m2"}
    assert outbox.claim(T + 45 * SECOND, T + 75 * SECOND) == []  # m2 still leased
    assert outbox.get("m1").status == SENT and outbox.get("m1").next_attempt_at != T + 60 * SECOND
    assert outbox.claim(T + 60 * SECOND, T + 90 * SECOND) == ["m2"]


class _SlowChannel:
    """Accepts every message, taking `seconds` of the (frozen, advanced) clock for each."""

    name = "email"

    def __init__(self, clock: FrozenClock, seconds: int) -> None:
        self.clock, self.seconds, self.sent = clock, seconds, list[str]()

    def send(self, rendered: Rendered) -> Delivery:
        self.clock.advance(timedelta(seconds=self.seconds))
        self.sent.append(rendered.message_id)
        return Delivery(ok=True, detail="250 ok")


class _Echo:
    def render(self, m: OutboxMessage) -> Rendered:
        return Rendered(m.id, m.key, m.channel, m.recipient, m.template, m.template)


def test_a_claim_is_a_lease_of_seconds_renewed_while_sending(outbox: Outbox) -> None:
    """A dispatcher sending slowly keeps its claim (no second dispatcher takes a message it
    still holds); a killed one's claim runs out within the lease, not minutes later."""
    outbox.add(*(message(f"m{n}", created_at=T) for n in range(6)))
    clock = FrozenClock(T)
    channel = _SlowChannel(clock, seconds=12)
    dispatcher = Dispatcher(outbox.store, _Echo(), {"email": channel}, clock)
    assert dispatcher.lease == 30 * SECOND
    stats = dispatcher.dispatch_once(limit=6)  # 72 s of sending, over two leases
    assert (stats.sent, channel.sent) == (6, [f"m{n}" for n in range(6)])
    assert all(outbox.get(f"m{n}").status == SENT for n in range(6))
    # a dispatcher killed right after claiming: its messages are due again after the lease
    outbox.add(message("k1", created_at=clock.now()))
    assert outbox.claim(clock.now(), clock.now() + dispatcher.lease) == ["k1"]
    assert outbox.claim(clock.now() + 29 * SECOND, clock.now() + 59 * SECOND) == []
    assert outbox.claim(clock.now() + 30 * SECOND, clock.now() + 60 * SECOND) == ["k1"]


def test_renewal_keeps_the_rest_of_a_slow_claim_from_a_second_dispatcher(outbox: Outbox) -> None:
    outbox.add(*(message(f"m{n}", created_at=T) for n in range(4)))
    clock = FrozenClock(T)
    taken: list[list[str]] = []

    class Watching(_SlowChannel):
        def send(self, rendered: Rendered) -> Delivery:
            delivery = super().send(rendered)  # the clock moved on: would another claim them?
            taken.append(outbox.claim(self.clock.now(), self.clock.now() + 30 * SECOND))
            return delivery

    dispatcher = Dispatcher(outbox.store, _Echo(), {"email": Watching(clock, 20)}, clock)
    assert dispatcher.dispatch_once(limit=4).sent == 4
    assert taken == [[], [], [], []]


def test_a_claim_lost_to_a_second_dispatcher_is_never_sent_twice(outbox: Outbox) -> None:
    """A send slower than the whole lease: another dispatcher claims the rest meanwhile; the
    first one's renewal finds it no longer holds them and leaves them to the second."""
    outbox.add(*(message(f"m{n}", created_at=T) for n in range(3)))
    clock = FrozenClock(T)
    second: list[str] = []

    class Stalled(_SlowChannel):
        def send(self, rendered: Rendered) -> Delivery:
            delivery = super().send(rendered)  # 40 s: longer than the 30 s lease
            if not second:
                second.extend(outbox.claim(self.clock.now(), self.clock.now() + 30 * SECOND))
            return delivery

    channel = Stalled(clock, 40)
    stats = Dispatcher(outbox.store, _Echo(), {"email": channel}, clock).dispatch_once(limit=3)
    # taken over once the first lease ran out: m0 too, as its send outlived the lease (the
    # at-least-once window, docs/ARCHITECTURE.md); m1 and m2 are left to the second dispatcher
    assert second == ["m0", "m1", "m2"]
    assert channel.sent == ["m0"] and stats.sent == 1
    assert outbox.store.renew(["m1"], T + 30 * SECOND, T + 90 * SECOND) == set()
