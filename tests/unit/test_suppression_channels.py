"""The daily cap on messages to a customer (`suppression.max_messages_per_customer_per_day`, 4 in
the shipped policy) counts every channel a customer is written to, e-mail, file, or a channel a
business adds (SMS here): a customer who switches channels during the day gets no more messages.
Calls to a business's own systems (`resolve` steps, webhooks) are not messages to the customer
and do not count. It holds within one batch and across batches (counted again from the store).
"""

from __future__ import annotations

from typing import Any

import pytest

from helpers import T0, ev, minutes
from makegood.testing import InMemoryStore

CAP = 4


def switch(n: int, channel: str) -> dict[str, Any]:
    return ev(
        f"u{n}",
        "customer.upserted",
        T0 + minutes(n),
        "c1",
        name="Ana",
        email="ana@example.com",
        phone="+351900000000",
        channel=channel,
    )


def missing_item(n: int) -> dict[str, Any]:
    """A missing item on order `o<n>`: a refund, an apology (one message), a `refund_item`
    webhook."""
    return ev(
        f"i{n}",
        "order.item_issue",
        T0 + minutes(n),
        "c1",
        f"o{n}",
        issue="missing",
        item="soup",
        item_value=5,
    )


def day_of_switching_channels() -> list[dict[str, Any]]:
    """Six item issues; the customer's channel changes between them: email, sms, file, sms, …"""
    events: list[dict[str, Any]] = []
    for n, channel in enumerate(["email", "sms", "file", "sms", "email", "file"]):
        events += [switch(2 * n, channel), missing_item(2 * n + 1)]
    return events


@pytest.mark.parametrize("batches", ["one batch", "one batch per event"])
def test_every_customer_channel_counts_toward_the_daily_cap(
    make_engine: Any, batches: str, policy: Any
) -> None:
    assert policy.policy.suppression.max_messages_per_customer_per_day == CAP
    store = InMemoryStore()
    engine = make_engine(store)
    events = day_of_switching_channels()
    if batches == "one batch":
        engine.ingest(events)
    else:
        for event in events:
            engine.ingest([event])
    outbox = sorted(store.state.outbox.values(), key=lambda m: m.created_at)
    to_customer = [m for m in outbox if m.template != "refund_item"]
    assert [m.channel for m in to_customer] == ["email", "sms", "file", "sms"]
    # from the fourth failure in 30 days on, the case is critical (repeat_failure): a person
    # takes it, and the customer hears so through the `escalated` template
    assert [m.template for m in to_customer] == ["apology", "apology", "apology", "escalated"]
    assert to_customer[0].recipient == "ana@example.com"
    suppressed = [e for e in store.state.timeline if e.kind == "message_suppressed"]
    assert [e.data["reason"] for e in suppressed] == [f"daily limit of {CAP} messages"] * 2
    # the three calls to the business's systems did not use up Ana's four messages
    calls = [m for m in outbox if m.template == "refund_item"]
    assert len(calls) == 3
    assert len(to_customer) + len(calls) > CAP


def test_the_cap_is_per_day(make_engine: Any, clock: Any) -> None:
    store = InMemoryStore()
    engine = make_engine(store)
    engine.ingest(day_of_switching_channels())
    clock.set(T0 + minutes(24 * 60))
    next_day = clock.now()
    engine.ingest(
        [
            ev(
                "j1",
                "order.item_issue",
                next_day,
                "c1",
                "o-next",
                issue="missing",
                item="soup",
                item_value=5,
            )
        ]
    )
    case_id = next(c.id for c in store.state.cases.values() if c.subject_key == "o-next")
    [fresh] = [
        m for m in store.state.outbox.values() if m.case_id == case_id and m.channel != "webhook"
    ]
    assert fresh.channel == "file"  # the last channel Ana chose
    # the day's surveys of yesterday's cases went out too: a new day, a new allowance
    assert not [
        e
        for e in store.state.timeline
        if e.kind == "message_suppressed" and e.at.date() == next_day.date()
    ]


def messages_to_a_customer_on_the_webhook_channel(make_engine: Any, batched: bool) -> int:
    """Messages to a customer whose own channel is "webhook" (say, a business relaying them as
    push notifications): messages to the customer, to be capped like any other."""
    store = InMemoryStore()
    engine = make_engine(store)
    events = [ev("u", "customer.upserted", T0, "c1", name="Ana", channel="webhook")]
    events += [
        ev(f"x{n}", "order.cancelled", T0 + minutes(n + 1), "c1", f"o{n}", by="business")
        for n in range(6)
    ]
    for batch in [events] if batched else [[e] for e in events]:
        engine.ingest(batch)
    return len(store.state.outbox)


def test_a_customer_on_the_webhook_channel_is_capped_alike_whatever_the_batches(
    make_engine: Any,
) -> None:
    one_batch = messages_to_a_customer_on_the_webhook_channel(make_engine, batched=True)
    per_event = messages_to_a_customer_on_the_webhook_channel(make_engine, batched=False)
    assert one_batch == per_event == CAP
