"""Event validation at the edge: exact errors, typed attributes, custom types."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from makegood.adapters.policy_file import default_policy_text, load_policy, parse_policy
from makegood.domain.errors import PolicyError
from makegood.domain.event import Event, Quarantined, Rejection, event_to_json, parse_event
from makegood.domain.limits import Limits

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


# poison: what no store can hold or no computation can use is refused with its field ----------
@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"id": "e\x00"}, "id", "contains a NUL character"),
        ({"customer_id": "c\ud800"}, "customer_id", "contains a lone surrogate"),
        ({"type": "order.placed\x00"}, "type", "contains a NUL character"),
        ({"attributes": {"k\x00": 1}}, "attributes.k\\x00", "contains a NUL character"),
        ({"attributes": {"a": [1, {"b": "\udc80"}]}}, "attributes.a[1].b", "lone surrogate"),
        ({"attributes": {"value": float("nan")}}, "attributes.value", "must be a finite number"),
        ({"attributes": {"x": float("inf")}}, "attributes.x", "must be a finite number, got inf"),
        ({"attributes": {"x": "y" * 70_000}}, "attributes.x", "longer than 65,536 characters"),
        ({"attributes": {"value": "1e999"}}, "attributes.value", "must be below"),
        ({"attributes": {"value": 10**13}}, "attributes.value", "must be below"),
        ({"type": "a." + "b" * 100}, "type", "at most 100 characters"),
        ({"occurred_at": "0001-01-01T00:00:00+01:00"}, "occurred_at", "out of range"),
        ({"occurred_at": "9999-12-31T23:00:00-05:00"}, "occurred_at", "out of range"),
        ({"occurred_at": "0001-01-01T00:00:00Z"}, "occurred_at", "must be from 1970-01-01"),
        ({"occurred_at": "9000-01-01T00:00:00Z"}, "occurred_at", "got 9000-01-01"),
        ({"attributes": {"promised_at": "9999-12-31T23:59:59Z"}}, "attributes.promised_at", "from"),
    ],
)
def test_poison_is_refused_with_the_field(change, field, reason):
    rejection = parse_event({**GOOD, **change})
    assert isinstance(rejection, Rejection)
    assert rejection.field == field
    assert reason in rejection.reason


def test_deep_nesting_is_refused_without_recursing():
    deep: dict = {}
    inner = deep
    for _ in range(5_000):
        inner["a"] = {}
        inner = inner["a"]
    rejection = parse_event({**GOOD, "attributes": deep})
    assert isinstance(rejection, Rejection)
    assert rejection.reason == "nests deeper than 32 levels"
    assert rejection.field.startswith("attributes.a.a")
    shallow = {"a": [[[1]]]}
    assert isinstance(parse_event({**GOOD, "attributes": shallow}), Event)


def test_the_accepted_time_range_is_passed_in():
    now = datetime(2026, 11, 2, tzinfo=UTC)
    limits = Limits(datetime(2020, 1, 1, tzinfo=UTC), now + timedelta(days=1))
    late = {**GOOD, "occurred_at": "2026-11-04T00:00:00Z"}
    assert isinstance(parse_event(late), Event)  # the default range reaches 2100
    rejection = parse_event(late, limits)
    assert isinstance(rejection, Rejection)
    assert rejection.field == "occurred_at"
    assert "2026-11-03T00:00:00+00:00" in rejection.reason
    early = {**GOOD, "occurred_at": "2019-12-31T23:59:59Z"}
    assert isinstance(parse_event(early, limits), Rejection)


def test_the_policy_sets_the_range_and_the_string_size():
    policy = load_policy()
    now = datetime(2026, 11, 2, tzinfo=UTC)
    limits = policy.limits(now)
    assert limits.earliest == datetime(1970, 1, 1, tzinfo=UTC)
    assert limits.latest == now + timedelta(days=365)
    assert limits.max_chars == 65_536


def test_a_refused_ids_and_fields_are_printable():
    rejection = parse_event({**GOOD, "id": "bad\x00\ud800", "attributes": {"\x00": 1}})
    assert isinstance(rejection, Rejection)
    assert rejection.event_id == "bad\\x00\\ud800"
    assert "\x00" not in rejection.field
    rejection.field.encode("utf-8")  # no lone surrogate left


def test_a_quarantined_record_can_be_stored_whatever_it_holds():
    held = Quarantined("api", 1, "x\x00\udcff" * 5_000, "f\ud800" * 200, "r", "i\x00" * 300)
    for text in (held.raw, held.field, held.reason, held.event_id or ""):
        assert "\x00" not in text
        text.encode("utf-8")
    assert len(held.raw) <= 10_000 * 7 and len(held.field) <= 200 * 7
    assert len(held.event_id or "") <= 200 * 7


def test_a_whole_number_written_as_a_float_is_a_whole_number():
    survey = {**GOOD, "type": "survey.answered", "attributes": {"score": 2.0}}
    event = parse_event(survey)
    assert isinstance(event, Event)
    assert event.attributes["score"] == 2
    assert isinstance(parse_event({**survey, "attributes": {"score": 2.5}}), Rejection)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("accept_from: yesterday", "engine.accept_from"),
        ("accept_from: '2020-01-01T00:00:00'", "engine.accept_from"),
        ("accept_ahead: -5d", "engine.accept_ahead"),
        ("max_attribute_chars: 0", "engine.max_attribute_chars"),
    ],
)
def test_the_policy_refuses_a_bad_accepted_range(setting, message):
    text = default_policy_text().replace("engine:\n", f"engine:\n  {setting}\n", 1)
    with pytest.raises(PolicyError, match=message.replace(".", r"\.")):
        parse_policy(text)


def test_the_policy_narrows_what_is_accepted():
    text = default_policy_text().replace(
        "engine:\n",
        "engine:\n  accept_from: '2026-01-01T00:00:00+01:00'\n  accept_ahead: 1h\n"
        "  max_attribute_chars: 30\n",
        1,
    )
    limits = parse_policy(text).limits(datetime(2026, 11, 2, 12, 0, tzinfo=UTC))
    assert limits.earliest == datetime(2025, 12, 31, 23, 0, tzinfo=UTC)
    assert limits.latest == datetime(2026, 11, 2, 13, 0, tzinfo=UTC)
    too_long = {**GOOD, "attributes": {"note": "x" * 31}}
    assert str(parse_event(too_long, limits)) == "attributes.note: is longer than 30 characters"
