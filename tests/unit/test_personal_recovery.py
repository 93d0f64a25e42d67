"""Personal recovery (issue 15): the tone and channel of a message chosen by the policy from the
customer's tier, value and the failure's severity; a call task for a person when it matters;
lifetime value and recent failures in the compensation formula; every message kind in the
customer's language."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from helpers import T0, ev, minutes
from makegood.adapters.templates import DEFAULT_TEMPLATE_DIR, TemplateRenderer
from makegood.bootstrap import default_analyzer
from makegood.domain.compensation import compute_amount
from makegood.domain.context import failure_context_in, voice_context
from makegood.domain.errors import PolicyError
from makegood.domain.model import Case, Customer, Failure
from makegood.domain.policy import Amount, Contact, Signature, Tone
from makegood.domain.rules import compile_policy
from makegood.domain.tone import contact_for, styled, tone_for
from makegood.domain.world import Snapshot, World
from makegood.service_layer.actions import Actions, Actor
from makegood.testing import InMemoryStore


def profile(customer: str, **attributes: Any) -> dict[str, Any]:
    return ev(f"{customer}:profile", "customer.upserted", T0 - minutes(60), customer, **attributes)


def cancelled_by_business(customer: str, order: str = "o1", at=T0) -> dict[str, Any]:
    return ev(f"{order}:x", "order.cancelled", at, customer, order, by="business")


def rage_clicks(customer: str, at=T0) -> dict[str, Any]:
    return ev(f"{customer}:rage", "behavior.signal", at, customer, signal="rage_click", count=7)


def outbox(store: InMemoryStore, customer: str) -> list:
    return [m for m in store.state.outbox.values() if m.customer_id == customer]


def entries(store: InMemoryStore, kind: str) -> list:
    return [e for e in store.state.timeline if e.kind == kind]


# tone ------------------------------------------------------------------------------------------
def test_the_shipped_tones_pick_by_tier_and_severity(policy) -> None:
    gold_critical = {"severity": "critical", "customer": {"tier": "gold"}}
    tone = tone_for(policy, gold_critical)
    assert tone is not None and tone.spec.name == "personal"
    template, extra = styled(tone, "escalated")
    assert template == "personal_note"
    assert extra == {
        "tone": "personal",
        "signature": {"name": "Marta Silva", "title": "Head of Customer Care"},
    }
    minor = tone_for(policy, {"severity": "minor", "customer": {"tier": "standard"}})
    assert minor is not None and styled(minor, "acknowledge")[0] == "short_apology"
    # a standard customer's critical failure, a major one: the plain templates
    assert tone_for(policy, {"severity": "critical", "customer": {"tier": "standard"}}) is None
    assert tone_for(policy, {"severity": "major", "customer": {"tier": "gold"}}) is None
    # a template the tone does not name is sent as it is, its context unchanged
    assert styled(tone, "survey") == ("survey", {})
    assert styled(None, "apology") == ("apology", {})


def test_a_gold_customers_critical_failure_gets_a_signed_personal_note(make_engine) -> None:
    store = InMemoryStore()
    make_engine(store).ingest(
        [
            profile("g1", name="Ana", tier="gold", lifetime_value="2400.00", email="a@example.com"),
            cancelled_by_business("g1"),
        ]
    )
    (message,) = outbox(store, "g1")
    assert (message.template, message.channel) == ("personal_note", "email")
    assert message.context["tone"] == "personal"
    assert message.context["signature"]["name"] == "Marta Silva"
    (queued,) = entries(store, "message_queued")
    assert queued.data["tone"] == "personal" and queued.data["template"] == "personal_note"
    rendered = TemplateRenderer([DEFAULT_TEMPLATE_DIR]).render(message)
    assert rendered.subject == "A personal note from Marta Silva"
    assert "Marta Silva\nHead of Customer Care, Fresh Bites" in rendered.text
    assert rendered.html is not None and "Head of Customer Care" in rendered.html


def test_a_minor_failure_gets_a_short_apology(make_engine) -> None:
    store = InMemoryStore()
    make_engine(store).ingest([rage_clicks("s1")])
    (message,) = outbox(store, "s1")
    assert (message.template, message.context["tone"]) == ("short_apology", "brief")
    rendered = TemplateRenderer([DEFAULT_TEMPLATE_DIR]).render(message)
    assert rendered.subject == "Sorry about that"
    assert rendered.text.startswith("Hi, sorry: our app made things harder")


def test_a_gold_customers_minor_failure_is_not_treated_as_minor(make_engine) -> None:
    store = InMemoryStore()  # the severity rule raises a gold customer's failure to major
    make_engine(store).ingest([profile("g2", tier="gold"), rage_clicks("g2")])
    assert [m.template for m in outbox(store, "g2")] == ["acknowledge"]
    assert "tone" not in outbox(store, "g2")[0].context


# channel and call ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("tier", "value", "calls"),
    [("gold", "150.00", True), ("silver", "1500.00", True), ("standard", "80.00", False)],
)
def test_a_critical_failure_of_a_high_value_customer_asks_a_person_to_call(
    make_engine, tier: str, value: str, calls: bool
) -> None:
    store = InMemoryStore()
    engine = make_engine(store)
    engine.ingest([profile("v1", tier=tier, lifetime_value=value), cancelled_by_business("v1")])
    (case,) = store.state.cases.values()
    assert case.needs_person and case.state == "escalated"  # in the queue either way
    requested = entries(store, "call_requested")
    assert len(requested) == int(calls)
    if calls:
        (call,) = requested
        assert call.case_id == case.id and call.data["tier"] == tier
        assert call.data["reason"] == "critical failure of a high-value customer: call them"
        assert call.data["has_phone"] is False
        assert [m.channel for m in outbox(store, "v1")] == ["email"]  # and the message too
    # the same event again (a retry): no second call
    engine.ingest([cancelled_by_business("v1")])
    assert len(entries(store, "call_requested")) == int(calls)


def test_a_call_task_records_that_a_phone_is_known_but_never_the_number(make_engine) -> None:
    store = InMemoryStore()
    make_engine(store).ingest(
        [profile("p1", tier="gold", phone="+351 912 345 678"), cancelled_by_business("p1")]
    )
    (call,) = entries(store, "call_requested")
    assert call.data["has_phone"] is True
    assert "912" not in repr(call.data)


def test_the_customers_preferred_channel_comes_first(make_engine, policy) -> None:
    by_rule = compile_policy(
        replace(
            policy.policy,
            contact=(Contact(when='severity == "minor"', channel="file"), *policy.policy.contact),
        )
    )
    store = InMemoryStore()
    make_engine(store, policy=by_rule).ingest(
        [profile("w1", channel="webhook"), rage_clicks("w1"), rage_clicks("n1")]
    )
    assert [m.channel for m in outbox(store, "w1")] == ["webhook"]  # their own preference
    assert [m.channel for m in outbox(store, "n1")] == ["file"]  # none stated: the rule's
    assert contact_for(by_rule, {"severity": "major"}) is None


# policy ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "path", "reason"),
    [
        ({"contact": (Contact(when="true"),)}, "contact[0]", "a channel, or call: true"),
        ({"contact": (Contact(when="tier == 1", call=True),)}, "contact[0].when", "'tier'"),
        ({"tones": (Tone("x", {}),)}, "tones[0].templates", "names the templates"),
        ({"tones": (Tone("x", {"apology": "../etc"}),)}, "tones[0].templates", "template"),
        ({"tones": (Tone("x", {"a": "b"}, when="ltv > 1"),)}, "tones[0].when", "'ltv'"),
    ],
)
def test_bad_tones_and_contact_rules_are_refused_with_their_path(
    policy, change: dict[str, Any], path: str, reason: str
) -> None:
    with pytest.raises(PolicyError) as caught:
        compile_policy(replace(policy.policy, **change))
    assert caught.value.path == path and reason in caught.value.message


def test_a_tone_compiles_with_its_signature(policy) -> None:
    tone = Tone("warm", {"apology": "warm_apology"}, "lifetime_value >= 500", Signature("Rui"))
    compiled = compile_policy(replace(policy.policy, tones=(tone,)))
    assert tone_for(compiled, {"lifetime_value": Decimal(700)}) is not None
    assert tone_for(compiled, {"lifetime_value": Decimal(300)}) is None
    assert styled(tone_for(compiled, {"lifetime_value": 900}), "apology")[1]["signature"] == {
        "name": "Rui",
        "title": "",
    }


# formula variables -----------------------------------------------------------------------------
def failure(id: str, case: str, customer: str = "c1", at=T0) -> Failure:
    return Failure(id, id, "d", customer, None, case, "process", "late_delivery", "major", at, at)


def test_recent_failures_count_other_failed_cases_in_the_last_30_days() -> None:
    now = T0
    world = World(
        Snapshot(
            customers={"c1": Customer("c1", tier="silver", lifetime_value=Decimal("1234.50"))},
            failures={
                f.id: f
                for f in (
                    failure("f-now", "case-now", at=now),
                    failure("f-same-case", "case-now", at=now - timedelta(days=2)),
                    failure("f-a", "case-a", at=now - timedelta(days=3)),
                    failure("f-a2", "case-a", at=now - timedelta(days=3)),  # one case, once
                    failure("f-b", "case-b", at=now - timedelta(days=29)),
                    failure("f-old", "case-old", at=now - timedelta(days=31)),
                    failure("f-other", "case-x", customer="c2", at=now),
                )
            },
        )
    )
    current = world.s.failures["f-now"]
    context = failure_context_in(world, current, world.customer("c1"), None, {}, now)
    assert context["recent_failures"] == 2
    assert context["lifetime_value"] == Decimal("1234.50")
    case = Case("case-now", "c1", "", "detected", "major", "late_delivery", now, now)
    # a message about no failure in particular sees the same figures
    voice = voice_context(world, case, world.customer("c1"), None, None, now)
    assert (voice["recent_failures"], voice["severity"]) == (2, "major")


@pytest.mark.parametrize(
    ("recent", "value", "tier", "expected"),
    [
        (0, "0", "standard", "5.00"),
        (2, "0", "standard", "9.00"),
        (5, "0", "standard", "11.00"),  # at most three recent failures count
        (0, "1000", "standard", "7.00"),
        (2, "1000", "silver", "13.20"),
        (3, "5000", "gold", "15.00"),  # the maximum
    ],
)
def test_the_shipped_cancellation_credit_reads_recent_failures_and_lifetime_value(
    policy, recent: int, value: str, tier: str, expected: str
) -> None:
    (playbook,) = [p for p in policy.playbooks if p.spec.name == "cancelled_order"]
    (step,) = [s for s in playbook.steps if s.spec.do == "compensate"]
    assert step.amount is not None
    context = {
        "recent_failures": recent,
        "lifetime_value": Decimal(value),
        "customer": {"tier": tier},
    }
    assert compute_amount(step.amount, context) == Decimal(expected)


def test_an_expression_may_read_the_new_variables(policy) -> None:
    amount = Amount(expr="lifetime_value / 100 + recent_failures")
    step = replace(policy.policy.playbooks[1].steps[1], amount=amount)
    playbook = replace(
        policy.policy.playbooks[1], steps=(policy.policy.playbooks[1].steps[0], step)
    )
    compiled = compile_policy(replace(policy.policy, playbooks=(playbook,)))
    compiled_amount = compiled.playbooks[0].steps[1].amount
    assert compiled_amount is not None
    got = compute_amount(compiled_amount, {"lifetime_value": Decimal(300), "recent_failures": 2})
    assert got == Decimal("5.00")


def test_a_customer_failed_again_is_credited_more_for_a_cancelled_order(make_engine, clock):
    store = InMemoryStore()
    engine = make_engine(store)
    issues = [
        ev(f"i{n}", "order.item_issue", T0 - timedelta(days=n), "r1", f"o{n}", issue="missing")
        for n in (2, 9)
    ]
    promised = T0 + minutes(30)
    engine.ingest([*issues, ev("p", "order.placed", T0, "r1", "o1", promised_at=promised)])
    clock.set(promised + minutes(15))
    engine.tick()
    clock.set(promised + minutes(40))
    engine.ingest([ev("x", "order.cancelled", clock.now(), "r1", "o1", by="customer")])
    credits = [c for c in store.state.compensations.values() if c.kind == "credit"]
    assert [c.amount for c in credits] == [Decimal(9)]  # 5 + 2 for each of two failed orders


# language --------------------------------------------------------------------------------------
def test_every_shipped_template_is_written_in_english_and_portuguese() -> None:
    found = TemplateRenderer([DEFAULT_TEMPLATE_DIR]).templates()
    assert {"personal_note", "short_apology"} <= set(found)
    assert {name: locales for name, locales in found.items() if locales != ["en", "pt"]} == {}


def test_every_message_kind_reaches_a_portuguese_customer_in_portuguese(
    make_engine, policy, clock
) -> None:
    store = InMemoryStore()
    engine = make_engine(store)
    engine.ingest(
        [
            profile("pt-gold", name="Inês", tier="gold", locale="pt"),
            profile("pt-std", name="Rui", locale="pt"),
            cancelled_by_business("pt-gold"),  # personal note
            rage_clicks("pt-std"),  # short apology, then a survey
            ev("i1", "order.item_issue", T0, "pt-std", "o5", issue="damaged", item_value=6),
        ]
    )
    case = next(c for c in store.state.cases.values() if c.customer_id == "pt-gold")
    Actions(store, policy, clock, lambda: "MG-TEST").grant(
        case.id, Actor("lead", "lead"), "voucher", Decimal(12), "sorry", "k1"
    )
    clock.advance(timedelta(hours=3))
    engine.tick()  # the follow-up surveys
    messages = [m for m in store.state.outbox.values() if m.channel != "action"]
    kinds = {m.template for m in messages}
    assert kinds == {"personal_note", "short_apology", "apology", "compensation", "survey"}
    renderer = TemplateRenderer([DEFAULT_TEMPLATE_DIR])
    for message in messages:
        assert message.locale == "pt", message.template
        assert renderer.resolve_locale(message.template, message.locale) == "pt"
        rendered = renderer.render(message)
        assert "Olá" in rendered.text, (message.template, rendered.text)


def test_without_a_profile_locale_the_reply_is_in_the_language_they_wrote(make_engine, policy):
    store = InMemoryStore()
    make_engine(store, analyzer=default_analyzer(policy)).ingest(
        [
            ev(
                "m1",
                "message.received",
                T0,
                "w9",
                text="o entregador foi grosseiro e desligou na minha cara, péssimo atendimento",
            )
        ]
    )
    (message,) = outbox(store, "w9")
    assert (message.template, message.locale) == ("short_apology", "pt")
    assert TemplateRenderer([DEFAULT_TEMPLATE_DIR]).render(message).subject == "Pedimos desculpas"
