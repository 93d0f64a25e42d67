"""The dispatcher against the in-memory outbox, with a frozen clock and scripted channels."""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from makegood.domain.message import DEAD, PENDING, SENT, Delivery, OutboxMessage, Rendered
from makegood.service_layer.dispatch import Dispatcher
from makegood.testing_outbox import InMemoryOutbox

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
BASE = timedelta(seconds=30)


class FrozenClock:
    def __init__(self, at: datetime = T0) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at += delta


class ScriptedChannel:
    """Answers from a script (a Delivery, or an exception to raise); then succeeds."""

    def __init__(self, name: str = "email", script: Sequence[Delivery | Exception] = ()) -> None:
        self.name = name
        self.script = list(script)
        self.received: list[Rendered] = []

    def send(self, message: Rendered) -> Delivery:
        self.received.append(message)
        answer = self.script.pop(0) if self.script else Delivery(ok=True, detail="ok")
        if isinstance(answer, Exception):
            raise answer
        return answer


class EchoRenderer:
    def render(self, message: OutboxMessage) -> Rendered:
        if message.template == "broken":
            raise ValueError("'voucher_code' is undefined")
        return Rendered(
            message_id=message.id,
            idempotency_key=message.key,
            channel=message.channel,
            recipient=message.recipient,
            subject=message.template,
            text="hello",
        )


def message(n: int = 1, channel: str = "email", template: str = "apology") -> OutboxMessage:
    return OutboxMessage(
        id=f"m{n}",
        key=f"case-1:apology:{n}",
        case_id="case-1",
        customer_id="c1",
        channel=channel,
        template=template,
        locale="en",
        recipient="ana@example.com",
        created_at=T0,
    )


def setup(
    *script: Delivery | Exception, max_attempts: int = 8, messages: int = 1
) -> tuple[InMemoryOutbox, ScriptedChannel, FrozenClock, Dispatcher]:
    store = InMemoryOutbox()
    for n in range(1, messages + 1):
        store.add(message(n))
    channel = ScriptedChannel(script=script)
    clock = FrozenClock()
    dispatcher = Dispatcher(
        store,
        EchoRenderer(),
        {"email": channel},
        clock,
        max_attempts=max_attempts,
        base_delay=BASE,
        max_delay=timedelta(minutes=5),
        rng=random.Random(7),
    )
    return store, channel, clock, dispatcher


TEMPORARY = Delivery(ok=False, detail="smtp 451 try later", status_code=451)


def test_a_delivered_message_is_marked_sent_once() -> None:
    store, channel, _, dispatcher = setup()
    stats = dispatcher.dispatch_once()
    assert (stats.claimed, stats.sent, stats.retried, stats.dead) == (1, 1, 0, 0)
    sent = store.get("m1")
    assert (sent.status, sent.attempts, sent.sent_at) == (SENT, 1, T0)
    assert channel.received[0].idempotency_key == "case-1:apology:1"
    assert dispatcher.dispatch_once().claimed == 0


def test_a_temporary_failure_is_retried_after_a_bounded_delay() -> None:
    store, channel, clock, dispatcher = setup(TEMPORARY, TEMPORARY)
    assert dispatcher.dispatch_once().retried == 1
    first = store.get("m1")
    assert first.status == PENDING and first.attempts == 1
    assert first.last_error == "smtp 451 try later"
    assert first.next_attempt_at is not None
    assert T0 <= first.next_attempt_at <= T0 + BASE
    # Not due before its time.
    assert dispatcher.dispatch_once().claimed == 0
    clock.at = first.next_attempt_at
    assert dispatcher.dispatch_once().retried == 1
    second = store.get("m1")
    assert second.next_attempt_at is not None
    assert clock.at <= second.next_attempt_at <= clock.at + 2 * BASE
    clock.at = second.next_attempt_at
    assert dispatcher.dispatch_once().sent == 1
    assert store.get("m1").attempts == 3
    assert len(channel.received) == 3
    assert [a.ok for a in store.history] == [False, False, True]


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    _, _, _, dispatcher = setup()
    for attempt in range(1, 12):
        cap = min(timedelta(minutes=5), BASE * 2 ** (attempt - 1))
        delays = [dispatcher.backoff(attempt) for _ in range(300)]
        assert all(timedelta(0) <= d <= cap for d in delays)
        assert max(delays) > cap * 0.9  # the whole range is used, not a fixed delay
        assert min(delays) < cap * 0.1
    assert dispatcher.backoff(10_000) <= timedelta(minutes=5)


def test_a_message_is_dead_after_max_attempts() -> None:
    store, channel, clock, dispatcher = setup(TEMPORARY, TEMPORARY, TEMPORARY, max_attempts=3)
    outcomes = []
    for _ in range(5):
        stats = dispatcher.dispatch_once()
        outcomes.append((stats.retried, stats.dead))
        clock.advance(timedelta(minutes=5))
    assert outcomes == [(1, 0), (1, 0), (0, 1), (0, 0), (0, 0)]
    dead = store.get("m1")
    assert (dead.status, dead.attempts, dead.next_attempt_at) == (DEAD, 3, None)
    assert dead.last_error == "gave up after 3 attempts: smtp 451 try later"
    assert len(channel.received) == 3


def test_a_permanent_failure_is_not_retried() -> None:
    refused = Delivery(ok=False, permanent=True, detail="smtp 550 recipient refused")
    store, channel, clock, dispatcher = setup(refused)
    assert dispatcher.dispatch_once().dead == 1
    clock.advance(timedelta(days=1))
    assert dispatcher.dispatch_once().claimed == 0
    assert store.get("m1").status == DEAD
    assert store.get("m1").last_error == "smtp 550 recipient refused"
    assert len(channel.received) == 1


def test_a_template_that_does_not_render_is_a_permanent_failure() -> None:
    store, channel, _, dispatcher = setup()
    store.add(message(2, template="broken"))
    stats = dispatcher.dispatch_once()
    assert (stats.sent, stats.dead) == (1, 1)
    broken = store.get("m2")
    assert broken.status == DEAD
    assert broken.last_error == "render failed: 'voucher_code' is undefined"
    assert [r.message_id for r in channel.received] == ["m1"]


def test_an_unknown_channel_is_a_permanent_failure() -> None:
    store, _, _, dispatcher = setup()
    store.add(message(2, channel="pigeon"))
    assert dispatcher.dispatch_once().dead == 1
    assert store.get("m2").last_error == "unknown channel 'pigeon'"


def test_a_channel_that_raises_is_a_temporary_failure_and_the_loop_goes_on() -> None:
    store, _, _, dispatcher = setup(ConnectionResetError("reset by peer"), messages=2)
    stats = dispatcher.dispatch_once()
    assert (stats.claimed, stats.sent, stats.retried) == (2, 1, 1)
    failed = store.get("m1")
    assert failed.status == PENDING
    assert failed.last_error == "channel raised ConnectionResetError: reset by peer"
    assert store.get("m2").status == SENT


def test_a_crashed_dispatchers_claim_expires_and_the_message_is_sent() -> None:
    store, channel, clock, dispatcher = setup()
    # Another dispatcher claims the message and dies before answering.
    assert len(store.claim(T0, T0 + dispatcher.lease, 10)) == 1
    assert dispatcher.dispatch_once().claimed == 0
    clock.advance(dispatcher.lease - timedelta(seconds=1))
    assert dispatcher.dispatch_once().claimed == 0
    clock.advance(timedelta(seconds=1))
    assert dispatcher.dispatch_once().sent == 1
    assert store.get("m1").attempts == 1
    assert len(channel.received) == 1


def test_claims_respect_the_limit() -> None:
    store, _, _, dispatcher = setup(messages=5)
    assert dispatcher.dispatch_once(limit=2).sent == 2
    assert dispatcher.dispatch_once(limit=10).sent == 3
    assert len(store.all(SENT)) == 5


def test_the_outbox_keeps_one_message_per_key() -> None:
    store = InMemoryOutbox()
    assert store.add(message(1))
    duplicate = message(1)
    duplicate.id = "other"
    assert not store.add(duplicate)
    assert [m.id for m in store.all()] == ["m1"]


class FlakyStore(InMemoryOutbox):
    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    def claim(self, now: datetime, lease_until: datetime, limit: int) -> Sequence[OutboxMessage]:
        if self.failures:
            self.failures -= 1
            raise OSError("database is gone for a moment")
        return super().claim(now, lease_until, limit)


def test_run_survives_a_store_error_and_stops_when_told() -> None:
    store = FlakyStore()
    store.add(message(1))
    stop = threading.Event()

    class StoppingChannel(ScriptedChannel):
        def send(self, message: Rendered) -> Delivery:
            stop.set()
            return super().send(message)

    channel = StoppingChannel()
    dispatcher = Dispatcher(store, EchoRenderer(), {"email": channel}, FrozenClock())
    worker = threading.Thread(target=dispatcher.run, args=(stop,), kwargs={"idle_sleep": 0.01})
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert store.get("m1").status == SENT


def test_settings_are_checked() -> None:
    store, _, clock, _ = setup()
    with pytest.raises(ValueError, match="max_attempts"):
        Dispatcher(store, EchoRenderer(), {}, clock, max_attempts=0)
    with pytest.raises(ValueError, match="base_delay"):
        Dispatcher(store, EchoRenderer(), {}, clock, max_delay=timedelta(seconds=1))
