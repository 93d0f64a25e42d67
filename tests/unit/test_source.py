"""Sources: each shipped mapping turns its vendor's documented sample into the expected events
and refuses a bad signature; mappings compile with their errors on their line; payloads that
do not map are a reason, not a crash."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from makegood.adapters.policy_file import load_policy, parse_policy
from makegood.adapters.source_auth import sign, verify
from makegood.domain.errors import PolicyError
from makegood.domain.event import Event, Rejection, parse_event
from makegood.domain.source import CompiledSource, map_payload

SAMPLES = Path(__file__).parents[1] / "data" / "sources"
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
SECRET = "s3cret-from-the-environment"


def sample(name: str) -> tuple[dict[str, str], Any]:
    data = yaml.safe_load((SAMPLES / f"{name}.yaml").read_text(encoding="utf-8"))
    return {k.lower(): str(v) for k, v in data["headers"].items()}, data["body"]


@pytest.fixture(scope="module")
def shipped() -> dict[str, CompiledSource]:
    return {s.name: s for s in load_policy().sources}


def events_of(source: CompiledSource, headers: dict[str, str], body: Any) -> list[Event]:
    mapped = map_payload(source, body, headers)
    assert not isinstance(mapped, Rejection), mapped
    parsed = [parse_event(raw) for raw in mapped]
    assert all(isinstance(e, Event) for e in parsed), parsed
    return [e for e in parsed if isinstance(e, Event)]


def signed(source: CompiledSource, body: Any, headers: dict[str, str]) -> tuple[bytes, dict]:
    raw = json.dumps(body).encode()
    extra = sign(source, SECRET, raw, NOW)
    return raw, {**headers, **{k.lower(): v for k, v in extra.items() if not k.startswith("?")}}


def query_of(source: CompiledSource) -> dict[str, str]:
    return {k[1:]: v for k, v in sign(source, SECRET, b"", NOW).items() if k.startswith("?")}


# the shipped mappings on the vendors' samples ------------------------------------------------


def test_shopify_order_created_is_placed_and_profiles_the_customer(shipped: Any) -> None:
    headers, body = sample("shopify_orders_create")
    placed, profile = events_of(shipped["shopify"], headers, body)
    assert placed.type == "order.placed"
    assert placed.id == "shopify:order:820982911946154508:placed"
    assert placed.customer_id == "jon@example.com"
    assert placed.subject_id == "820982911946154508"
    assert placed.occurred_at == datetime(2022, 1, 1, tzinfo=UTC)  # 19:00 at -05:00
    assert placed.attributes == {"value": Decimal("403.00"), "currency": "USD", "number": "#9999"}
    assert profile.type == "customer.upserted"
    assert profile.customer_id == placed.customer_id
    assert profile.attributes["name"] == "John"
    assert profile.attributes["email"] == "jon@example.com"
    assert profile.attributes["locale"] == "en"


def test_shopify_fulfillment_delivered_is_delivered(shipped: Any) -> None:
    headers, body = sample("shopify_fulfillments_update")
    (delivered,) = events_of(shipped["shopify"], headers, body)
    assert delivered.type == "order.delivered"
    assert delivered.id == "shopify:order:820982911946154508:delivered"
    assert delivered.subject_id == "820982911946154508"  # the order placed above
    assert delivered.customer_id == "jon@example.com"
    assert delivered.attributes == {"carrier": "UPS"}


def test_shopify_fulfillment_not_yet_delivered_gives_no_event(shipped: Any) -> None:
    headers, body = sample("shopify_fulfillments_update")
    assert map_payload(shipped["shopify"], {**body, "shipment_status": "in_transit"}, headers) == []
    assert map_payload(shipped["shopify"], body, {"x-shopify-topic": "products/update"}) == []


@pytest.mark.parametrize(
    ("status", "alert"),
    [
        ("investigating", "down"),
        ("identified", "down"),
        ("monitoring", "degraded"),
        ("resolved", "restored"),
        ("postmortem", "restored"),
    ],
)
def test_statuspage_incident_is_a_service_alert(shipped: Any, status: str, alert: str) -> None:
    headers, body = sample("statuspage_incident")
    body["incident"]["status"] = status
    (event,) = events_of(shipped["statuspage"], headers, body)
    assert event.type == "service.alert"
    assert event.id == f"statuspage:incident:lbkhbwn21v5q:{status}"
    assert event.customer_id == "system:monitoring"
    assert event.occurred_at == datetime(2013, 5, 29, 22, 30, 35, tzinfo=UTC)
    assert event.attributes["status"] == alert
    assert event.attributes["message"] == "Virginia Is Down"


def test_statuspage_component_down_and_back_names_its_area(shipped: Any) -> None:
    headers, body = sample("statuspage_component_update")
    (down,) = events_of(shipped["statuspage"], headers, body)
    assert (down.type, down.attributes["status"], down.attributes["area"]) == (
        "service.alert",
        "down",
        "north",
    )
    body["component_update"] |= {"new_status": "operational", "id": "k7730b5v92bw"}
    (back,) = events_of(shipped["statuspage"], headers, body)
    assert back.attributes["status"] == "restored"
    assert back.id != down.id


def test_zendesk_customer_comment_is_a_message(shipped: Any) -> None:
    headers, body = sample("zendesk_comment_added")
    (message,) = events_of(shipped["zendesk"], headers, body)
    assert message.type == "message.received"
    assert message.id == "zendesk:comment:10417846497052"
    assert message.customer_id == "zendesk:8447388090494"
    assert message.occurred_at == datetime(2026, 7, 4, 5, 33, 18, tzinfo=UTC)
    assert message.attributes["text"].startswith("This is the second time")
    assert message.attributes["ticket"] == "5158"


def test_zendesk_agent_and_private_comments_give_no_event(shipped: Any) -> None:
    headers, body = sample("zendesk_comment_added")
    staff = json.loads(json.dumps(body))
    staff["event"]["comment"]["author"]["is_staff"] = True
    private = json.loads(json.dumps(body))
    private["event"]["comment"]["is_public"] = False
    assert map_payload(shipped["zendesk"], staff, headers) == []
    assert map_payload(shipped["zendesk"], private, headers) == []


SHIPPED = [
    ("shopify", "shopify_orders_create"),
    ("shopify", "shopify_fulfillments_update"),
    ("statuspage", "statuspage_incident"),
    ("zendesk", "zendesk_comment_added"),
]


@pytest.mark.parametrize(("name", "file"), SHIPPED)
def test_each_shipped_source_accepts_its_signature_and_refuses_a_bad_one(
    shipped: Any, name: str, file: str
) -> None:
    source = shipped[name]
    headers, body = sample(file)
    raw, good = signed(source, body, headers)
    query = query_of(source)
    assert verify(source, SECRET, raw, good, query, NOW) is None
    assert verify(source, "another-secret", raw, good, query, NOW) is not None
    if source.spec.auth.scheme != "token":  # a shared token does not cover the body
        tampered = raw.replace(b'"', b" ", 1)
        assert verify(source, SECRET, tampered, good, query, NOW) is not None
    assert verify(source, SECRET, raw, headers, {}, NOW) is not None  # nothing: refused


# signature schemes ----------------------------------------------------------------------------

POLICY_HEAD = """
detectors: []
playbooks: [{name: p, steps: [{do: escalate}]}]
sources:
"""
ONE_EVENT = """
    events:
      - type: order.placed
        id: str(body.id)
        customer: body.customer
        subject: str(body.id)
        occurred_at: time(body.at)
"""


def source_with(auth: str) -> CompiledSource:
    text = POLICY_HEAD + f"  - name: vendor\n    auth: {auth}\n" + ONE_EVENT
    return parse_policy(text).sources[0]


def test_stripe_style_signature_within_its_tolerance() -> None:
    source = source_with("{scheme: stripe, secret_env: VENDOR_SECRET, tolerance: 5m}")
    body = b'{"id": 1}'
    headers = {k.lower(): v for k, v in sign(source, SECRET, body, NOW).items()}
    assert headers["stripe-signature"].startswith(f"t={int(NOW.timestamp())},v1=")
    assert verify(source, SECRET, body, headers, {}, NOW + timedelta(minutes=4)) is None
    late = verify(source, SECRET, body, headers, {}, NOW + timedelta(minutes=6))
    assert late == "the signature's timestamp is outside the tolerance"
    assert verify(source, SECRET, body + b" ", headers, {}, NOW) == "the signature does not match"
    # a rolled secret: the sender signs with both, either one matches
    stamp, good = headers["stripe-signature"].split(",")
    rolled = {"stripe-signature": f"{stamp},v1={'0' * 64},{good}"}
    assert verify(source, SECRET, body, rolled, {}, NOW) is None
    assert verify(source, SECRET, body, {"stripe-signature": "v1=abc"}, {}, NOW) is not None


def test_hex_hmac_with_a_prefix_as_github_signs() -> None:
    auth = "{scheme: hmac, header: X-Hub-Signature-256, prefix: 'sha256=', secret_env: GH}"
    source = source_with(auth)
    body = b'{"id": 2}'
    headers = {k.lower(): v for k, v in sign(source, SECRET, body, NOW).items()}
    assert headers["x-hub-signature-256"].startswith("sha256=")
    assert verify(source, SECRET, body, headers, {}, NOW) is None
    bare = {"x-hub-signature-256": headers["x-hub-signature-256"][7:]}
    assert "does not start with" in str(verify(source, SECRET, body, bare, {}, NOW))


def test_bearer_token_in_the_authorization_header() -> None:
    source = source_with("{scheme: token, secret_env: VENDOR_TOKEN}")
    assert verify(source, SECRET, b"{}", {"authorization": f"Bearer {SECRET}"}, {}, NOW) is None
    wrong = {"authorization": "Bearer nope"}
    assert verify(source, SECRET, b"{}", wrong, {}, NOW) == "the token does not match"
    assert verify(source, SECRET, b"{}", {}, {}, NOW) == "the Authorization header is missing"
    assert verify(source, "", b"{}", {}, {}, NOW) == "no secret is configured for this source"


def test_bad_base64_signature_is_refused_not_a_crash(shipped: Any) -> None:
    source = shipped["shopify"]
    bad = {"x-shopify-hmac-sha256": "not base64 !!"}
    assert verify(source, SECRET, b"{}", bad, {}, NOW) == "the signature is not base64"


# payloads that do not map ---------------------------------------------------------------------


def test_a_payload_that_does_not_map_names_the_entry_and_field() -> None:
    source = source_with("{scheme: token, secret_env: VENDOR_TOKEN}")
    rejection = map_payload(source, {"id": 7, "at": "2026-11-23T12:00:00Z"}, {})
    assert rejection == Rejection("events[0].customer", "vendor: 'body.customer' gave null")
    rejection = map_payload(source, {"id": 7, "customer": "c", "at": "noon"}, {})
    assert isinstance(rejection, Rejection)
    assert rejection.field == "events[0].occurred_at"
    assert "not an ISO 8601 date-time" in rejection.reason
    assert map_payload(source, [1, 2], {}) == Rejection(
        "events[0].id", "vendor: 'str(body.id)' gave null"
    )


def test_ids_are_prefixed_with_the_source_so_sources_never_collide() -> None:
    source = source_with("{scheme: token, secret_env: VENDOR_TOKEN}")
    mapped = map_payload(source, {"id": 7, "customer": "c", "at": "2026-11-23T12:00:00Z"}, {})
    assert not isinstance(mapped, Rejection)
    assert mapped[0]["id"] == "vendor:7"


# the policy: mappings checked with their line --------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "events", "message", "line"),
    [
        ("{scheme: hmac, secret_env: X}", ONE_EVENT, "names the header", 6),
        ("{scheme: token, secret_env: sk_live_123}", ONE_EVENT, "environment variable", 6),
        (
            "{scheme: token, secret_env: X}",
            ONE_EVENT.replace("body.customer", "customer"),
            "unknown name",
            11,
        ),
        (
            "{scheme: token, secret_env: X}",
            ONE_EVENT.replace("str(body.id)", "str(body.id", 1),
            "expected",
            10,
        ),
        ("{scheme: token, secret_env: X}", ONE_EVENT.replace("order.placed", "Placed"), "type", 9),
        ("{scheme: stripe, secret_env: X, tolerance: soon}", ONE_EVENT, "duration", 6),
        ("{scheme: token, secret_env: X, password: hunter2}", ONE_EVENT, "Unexpected keyword", 6),
    ],
)
def test_policy_check_names_the_line_of_a_bad_mapping(
    auth: str, events: str, message: str, line: int
) -> None:
    text = POLICY_HEAD + f"  - name: vendor\n    auth: {auth}\n" + events
    with pytest.raises(PolicyError, match=message) as raised:
        parse_policy(text)
    assert raised.value.line == line, str(raised.value)


def test_unknown_names_in_a_mapping_say_which_are_known() -> None:
    text = POLICY_HEAD + "  - name: vendor\n    auth: {scheme: token, secret_env: X}\n"
    text += ONE_EVENT.replace("body.customer", "payload.customer")
    with pytest.raises(PolicyError, match=r"unknown name 'payload'.*known: body, headers, query"):
        parse_policy(text)


def test_two_sources_of_one_name_are_refused() -> None:
    one = "  - name: vendor\n    auth: {scheme: token, secret_env: X}\n" + ONE_EVENT
    with pytest.raises(PolicyError, match="used twice"):
        parse_policy(POLICY_HEAD + one + one)
