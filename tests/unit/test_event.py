"""Event validation at the edge: exact errors, typed attributes, custom types."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from makegood.domain.event import Event, Rejection, event_to_json, parse_event

GOOD = {
    "id": "e1",
    "type": "order.placed",
    "occurred_at": "2026-11-02T12:00:00+01:00",
    "customer_id": "c1",
    "subject_id": "o1",
    "attributes": {"promised_at": "2026-11-02T11:30:00Z", "value": 19.9, "area": "Baixa"},
}


def test_a_good_event_is_typed_and_normalised_to_utc():
    event = parse_event(GOOD)
    assert isinstance(event, Event)
    assert event.occurred_at == datetime(2026, 11, 2, 11, 0, tzinfo=UTC)
    assert event.attributes["promised_at"] == datetime(2026, 11, 2, 11, 30, tzinfo=UTC)
    assert event.attributes["value"] == Decimal("19.9")
    assert event.attributes["area"] == "Baixa"  # unknown attributes are kept as given
    assert parse_event(event_to_json(event)) == event


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"id": None}, "id", "is required"),
        ({"id": ""}, "id", "must be a non-empty string"),
        ({"type": "Order Placed"}, "type", "must be a dotted lower-case name like order.placed"),
        ({"occurred_at": "2026-11-02T12:00:00"}, "occurred_at", "must carry a timezone offset"),
        ({"occurred_at": "noon"}, "occurred_at", "not an ISO 8601 date-time: 'noon'"),
        ({"customer_id": None}, "customer_id", "is required"),
        ({"subject_id": None}, "subject_id", "is required"),
        ({"attributes": [1]}, "attributes", "must be a JSON object"),
        ({"attributes": {"value": "a lot"}}, "attributes.value", "must be a number, got 'a lot'"),
        ({"attributes": {"value": -1}}, "attributes.value", "must be a non-negative number"),
        ({"extra": 1}, "extra", "is not an envelope field (put it under attributes)"),
    ],
)
def test_bad_events_are_rejected_with_the_field_and_the_reason(change, field, reason):
    raw = {**GOOD, **change}
    if change.get("id", 0) is None:
        del raw["id"]
    rejection = parse_event(raw)
    assert isinstance(rejection, Rejection)
    assert rejection.field == field
    assert reason in rejection.reason


def test_builtin_types_check_their_required_attributes():
    survey = {
        "id": "s",
        "type": "survey.answered",
        "occurred_at": "2026-11-02T12:00:00Z",
        "customer_id": "c1",
        "attributes": {"score": 9},
    }
    rejection = parse_event(survey)
    assert isinstance(rejection, Rejection)
    assert (rejection.field, rejection.reason) == ("attributes.score", "must be from 1 to 7, got 9")
    alert = {**survey, "type": "service.alert", "attributes": {"status": "on fire"}}
    assert "must be one of down, degraded, restored" in str(parse_event(alert))
    missing = {**survey, "type": "message.received", "attributes": {}}
    assert str(parse_event(missing)) == "attributes.text: is required for message.received"


def test_custom_types_are_accepted_with_their_attributes():
    raw = {
        **GOOD,
        "type": "booking.missed",
        "subject_id": None,
        "attributes": {"anything": [1, {"x": 2}]},
    }
    event = parse_event(raw)
    assert isinstance(event, Event)
    assert event.attributes == {"anything": [1, {"x": 2}]}


def test_not_an_object_is_a_rejection_not_a_crash():
    assert isinstance(parse_event([1, 2]), Rejection)
    assert isinstance(parse_event(None), Rejection)
