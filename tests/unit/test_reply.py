"""A person's reply (issue 15), on the in-memory store with a frozen clock: queued in the
customer's language on their channel, on the timeline, counted against the daily cap (the
engine's own messages included); a bad reply is refused before anything is written."""

from __future__ import annotations

from typing import Any

import pytest

from helpers import T0, ev
from makegood.domain.actions import ActionRefused, Actor
from makegood.domain.rules import CompiledPolicy
from makegood.service_layer.actions import Actions
from makegood.testing import FrozenClock, InMemoryStore, counting_codes

ALICE = Actor("alice", "agent")


@pytest.fixture
def desk(
    make_engine: Any, policy: CompiledPolicy, clock: FrozenClock
) -> tuple[InMemoryStore, Actions, str]:
    store = InMemoryStore()
    engine = make_engine(store)
    engine.ingest(
        [
            ev("p", "customer.upserted", T0, "c1", name="Rita", locale="pt", email="r@example.com"),
            ev("x", "order.cancelled", T0, "c1", "o1", by="business"),
        ]
    )
    (case_id,) = store.state.cases
    return store, Actions(store, policy, clock, counting_codes()), case_id


def test_a_reply_is_queued_in_the_customers_language(
    desk: tuple[InMemoryStore, Actions, str],
) -> None:
    store, actions, case_id = desk
    before = len(store.state.outbox)
    draft = actions.draft_reply(case_id, ALICE, "reply_sorted", "")
    assert len(store.state.outbox) == before  # a draft writes nothing
    message = actions.reply(case_id, ALICE, "reply_sorted", "  Até breve.  ", "k")
    assert (message.locale, message.channel, message.recipient) == ("pt", "email", "r@example.com")
    assert (draft.locale, draft.template) == ("pt", "reply_sorted")
    assert message.context["reply"] == {"text": "Até breve.", "by": "alice"}
    assert message.context["order"]["id"] == "o1"
    assert store.state.outbox[f"reply:{case_id}:k"].id == message.id
    (entry,) = [e for e in store.state.timeline if e.kind == "reply_queued"]
    assert (entry.actor, entry.data["template"], entry.data["text"]) == (
        "alice",
        "reply_sorted",
        "Até breve.",
    )


def test_replies_count_against_the_daily_cap(
    desk: tuple[InMemoryStore, Actions, str], policy: CompiledPolicy
) -> None:
    store, actions, case_id = desk
    limit = policy.policy.suppression.max_messages_per_customer_per_day
    engine_sent = sum(1 for m in store.state.outbox.values() if m.customer_id == "c1")
    for n in range(limit - engine_sent):
        actions.reply(case_id, ALICE, "reply", f"update {n}")
    with pytest.raises(ActionRefused, match="daily limit"):
        actions.reply(case_id, ALICE, "reply", "one too many")
    with pytest.raises(ActionRefused, match="daily limit"):
        actions.draft_reply(case_id, ALICE, "reply", "the preview says so too")


@pytest.mark.parametrize(
    ("template", "text", "why"),
    [
        ("apology", "hi", "not a reply template"),
        ("reply", "   ", "needs a text"),
        ("reply", "x" * 5001, "at most 5000"),
    ],
)
def test_a_bad_reply_is_refused(
    desk: tuple[InMemoryStore, Actions, str], template: str, text: str, why: str
) -> None:
    store, actions, case_id = desk
    before = len(store.state.outbox)
    with pytest.raises(ActionRefused, match=why):
        actions.reply(case_id, ALICE, template, text)
    assert len(store.state.outbox) == before
