"""CloudEvents 1.0 into makegood's envelope: structured, batch and binary modes, as the official
SDK writes them; a malformed CloudEvent is refused with its field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from cloudevents.core.bindings.http import to_binary_event, to_structured_event
from cloudevents.core.v1.event import CloudEvent

from makegood.adapters.cloudevent import BATCH, STRUCTURED, decode, mode
from makegood.domain.event import Event, parse_event

AT = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def attributes(**overrides: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": "A234-1234-1234",
        "source": "/shop/orders",
        "type": "order.placed",
        "time": AT.isoformat(),
        "subject": "o-1",
        "customerid": "c-1",
        **overrides,
    }


DATA = {"promised_at": "2026-11-24T12:40:00+00:00", "value": 23.5}


def only(decoded: list[Any]) -> Any:
    (item,) = decoded
    return item


def test_structured_mode_becomes_the_envelope_with_source_and_id_as_the_key() -> None:
    body = json.dumps({**attributes(), "data": DATA}).encode()
    item = only(decode({"Content-Type": STRUCTURED + "; charset=utf-8"}, body))
    assert item.rejection is None
    assert item.raw == {
        "id": "/shop/orders#A234-1234-1234",
        "type": "order.placed",
        "occurred_at": "2026-11-24T12:00:00+00:00",
        "customer_id": "c-1",
        "subject_id": "o-1",
        "attributes": DATA,
    }
    event = parse_event(item.raw)
    assert isinstance(event, Event)
    assert event.occurred_at == AT


def test_the_same_id_from_another_source_is_another_event() -> None:
    first = only(decode({"content-type": STRUCTURED}, json.dumps(attributes()).encode()))
    other = attributes(source="/billing")
    second = only(decode({"content-type": STRUCTURED}, json.dumps(other).encode()))
    assert first.raw["id"] != second.raw["id"]


def test_binary_mode_as_the_sdk_sends_it() -> None:
    message = to_binary_event(CloudEvent(attributes(time=AT), DATA))
    assert mode(message.headers) == "binary"
    item = only(decode(message.headers, message.body))
    assert item.rejection is None
    assert item.raw["id"] == "/shop/orders#A234-1234-1234"
    assert item.raw["attributes"] == DATA
    assert item.raw["subject_id"] == "o-1"


def test_structured_mode_as_the_sdk_sends_it() -> None:
    message = to_structured_event(CloudEvent(attributes(time=AT), DATA))
    item = only(decode(message.headers, message.body))
    assert item.rejection is None
    assert item.raw["customer_id"] == "c-1"


def test_batch_mode_keeps_each_event_and_refuses_only_the_bad_one() -> None:
    good = {**attributes(), "data": DATA}
    bad = {**attributes(id="2"), "time": "yesterday"}
    decoded = decode({"content-type": BATCH}, json.dumps([good, bad]).encode())
    assert [d.rejection is None for d in decoded] == [True, False]
    assert decoded[1].rejection.field == "time"
    assert decoded[1].rejection.event_id == "2"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": None}, "id"),
        ({"time": None}, "time"),
        ({"source": None}, "source"),
        ({"type": None}, "type"),
        ({"specversion": "0.2"}, "specversion"),
        ({"customerid": None}, "customerid"),
        ({"time": "2026-11-24T12:00:00"}, "time"),
    ],
)
def test_a_malformed_cloudevent_is_refused_with_its_field(
    change: dict[str, Any], field: str
) -> None:
    event = {k: v for k, v in {**attributes(), **change}.items() if v is not None}
    item = only(decode({"content-type": STRUCTURED}, json.dumps(event).encode()))
    assert item.raw is None
    assert item.rejection.field == field, item.rejection
    assert item.text


def test_binary_mode_refuses_a_missing_id_the_sdk_would_invent() -> None:
    headers = {"ce-specversion": "1.0", "ce-source": "/s", "ce-type": "t"}
    headers |= {"ce-time": "2026-11-24T12:00:00Z"}
    headers |= {"content-type": "application/json"}
    item = only(decode(headers, b"{}"))
    assert item.rejection is not None
    assert item.rejection.field == "id"


def test_not_json_and_not_a_batch_are_refused_whole() -> None:
    assert only(decode({"content-type": STRUCTURED}, b"{")).rejection.field == "body"
    assert only(decode({"content-type": BATCH}, b"{}")).rejection.field == "body"
    assert mode({"content-type": "application/json"}) is None
