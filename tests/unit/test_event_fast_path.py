"""The fast paths of taking an event in give exactly what their plain definitions give.

`parse_event` first tries `_well_formed` (one pass, checks planned per built-in type) and falls
back to `_parse`, the definition, which alone refuses; `jsonable` and `fingerprint` have fast
branches for exact types. Each is checked here against the definition on random input, near
valid and hostile alike, and compared by `repr` so that types count too (2 is not 2.0 nor
True, Decimal("1.0") is not Decimal("1"))."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from makegood.domain.event import (
    BUILTIN,
    Event,
    _parse,
    _well_formed,
    event_to_json,
    jsonable,
    parse_event,
)
from makegood.domain.fingerprint import fingerprint
from makegood.domain.limits import Limits
from makegood.entrypoints.demo.simulator import SimulationSettings, Simulator

PROPERTY = settings(
    max_examples=600,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)

NASTY = ["\x00", "\ud800", "\udc80", " ", "\t", "é", "\u2028", "\n", "x" * 30]
text = st.one_of(
    st.sampled_from(["", " ", "a", "o-1", "c-00247", "EUR", "Belém", "missing", "down"]),
    st.lists(st.one_of(st.characters(), st.sampled_from(NASTY)), max_size=8).map("".join),
)
offsets = st.integers(min_value=-23 * 60, max_value=23 * 60).map(
    lambda m: timezone(timedelta(minutes=m))
)
instants = st.datetimes(
    min_value=datetime(1960, 1, 1),  # noqa: DTZ001 (hypothesis bounds are naive)
    max_value=datetime(2110, 1, 1),  # noqa: DTZ001
    timezones=offsets,
)
dates = st.one_of(
    instants.map(datetime.isoformat),
    instants.map(lambda d: d.astimezone(UTC).isoformat().replace("+00:00", "Z")),
    instants,
    st.datetimes().map(datetime.isoformat),  # naive
    st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59Z", "noon", ""]),
)
numbers = st.one_of(
    st.integers(min_value=-5, max_value=10**13),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["22.65", "0", "-1", "1e999", "a lot", "7", "2.0", 2.0, True, 6]),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, text, dates)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)
names = sorted({name for _, required, optional in BUILTIN.values() for name in required | optional})
attributes = st.dictionaries(
    st.one_of(st.sampled_from(names), text, st.integers(0, 3)),
    st.one_of(scalars, values),
    max_size=6,
)
identifiers = st.one_of(text, st.sampled_from(["e1", "c1", "o1", "x" * 200, "x" * 201]))
envelope = st.fixed_dictionaries(
    {
        "id": st.one_of(identifiers, st.integers(), st.none()),
        "type": st.one_of(
            st.sampled_from([*BUILTIN, "booking.missed", "Order", "a." + "b" * 99]), text
        ),
        "occurred_at": st.one_of(dates, st.none(), st.integers()),
        "customer_id": st.one_of(identifiers, st.integers(), st.none()),
    },
    optional={
        "subject_id": st.one_of(identifiers, st.none(), st.integers()),
        "attributes": st.one_of(attributes, st.none(), values),
        "extra": values,
    },
)
limits = st.just(Limits()) | st.builds(
    Limits,
    earliest=st.sampled_from(
        [datetime(1970, 1, 1, tzinfo=UTC), datetime(2026, 11, 2, 6, 30, tzinfo=UTC)]
    ),
    latest=st.sampled_from([datetime(2100, 1, 1, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC)]),
    max_depth=st.sampled_from([32, 2, 1, 0, -1]),
    max_chars=st.sampled_from([65_536, 40, 32, 20, 12, 3]),
)


# on both sides of each bound `limits` draws (2026-11-02T06:30Z and 2026-11-03T00:00Z)
TIMES = [
    "2026-11-02T12:00:00Z",
    "2026-11-02T12:00:00.5+01:00",
    "2026-11-02T07:00:00+01:00",
    "2026-11-02T06:30:00Z",
    "2026-11-03T00:00:00Z",
    "2026-11-03T00:00:00.000001Z",
    "2026-11-02T23:00:00-01:00",
    "2026-11-02T22:00:00-01:00",
]
POISON = [float("nan"), float("-inf"), "\x00", "a\ud800", "x" * 50, 10**13, [[[[1]]]], {"a": {}}]
GOOD_VALUES = {
    "promised_at": "2026-11-02T11:30:00Z",
    "eta": "2026-11-02T12:10:00+01:00",
    "text": "still waiting for the courier, it is late",
    "value": "22.65",
    "item_value": 8.84,
    "lifetime_value": 54,
    "currency": "EUR",
    "quantity": 2,
    "score": 2.0,
    "ces": "5",
    "kind": "csat",
    "by": "business",
    "status": "down",
    "issue": "missing",
    "signal": "rage_click",
    "count": 12,
    "comment": "",
}


@st.composite
def near_valid(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed event of a random type, then perhaps a few changes of any kind."""
    type_ = draw(st.sampled_from([*BUILTIN, "booking.missed"]))
    needs, required, optional = BUILTIN.get(type_, (False, {}, {}))
    wanted = set(required) | draw(st.sets(st.sampled_from(sorted(optional) or ["area"])))
    raw: dict[str, Any] = {
        "id": "e-1:placed",
        "type": type_,
        "occurred_at": draw(st.sampled_from(TIMES)),
        "customer_id": "c-00247",
        "subject_id": "o-1" if needs or draw(st.booleans()) else None,
        "attributes": {name: GOOD_VALUES.get(name, "Belém") for name in sorted(wanted)},
    }
    for name in ("promised_at", "eta"):
        if name in raw["attributes"] and draw(st.booleans()):
            raw["attributes"][name] = draw(st.sampled_from(TIMES))
    for _ in range(draw(st.sampled_from([0, 0, 1, 2]))):
        key = draw(st.one_of(st.sampled_from(names), text))
        raw["attributes"][key] = draw(st.one_of(st.sampled_from(POISON), values))
    for _ in range(draw(st.sampled_from([0, 0, 1, 2]))):
        name = draw(st.sampled_from(sorted(raw)))
        raw[name] = draw(st.one_of(st.sampled_from(POISON), scalars, values, identifiers))
    return raw


@PROPERTY
@given(st.one_of(near_valid(), near_valid(), envelope), limits)
def test_parse_event_answers_as_its_definition(raw: dict[str, Any], limits: Limits) -> None:
    assert repr(parse_event(raw, limits)) == repr(_parse(raw, limits))


def test_the_demo_events_take_the_fast_path_and_come_out_the_same() -> None:
    sim = Simulator(SimulationSettings(orders=600, customers=100))
    raws = sim.advance(sim.horizon)
    assert {raw["type"] for raw in raws} >= {"order.placed", "customer.upserted"}
    for raw in raws:
        fast = _well_formed(raw, Limits())
        assert fast is not None, raw  # a common event never takes the slow path
        assert repr(fast) == repr(_parse(raw, Limits()))


# jsonable and fingerprint, against their plain definitions ----------------------------------
_PLAIN = (str, int, float, bool, type(None))


def defined_jsonable(value: Any) -> Any:
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, dict) and all(type(v) in _PLAIN for v in value.values()):
        return value
    if isinstance(value, Mapping):
        return {str(k): defined_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [defined_jsonable(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: defined_jsonable(getattr(value, f.name)) for f in fields(value)}
    return value


def whole(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: whole(v) for k, v in value.items()}
    if isinstance(value, list):
        return [whole(v) for v in value]
    return value


def defined_fingerprint(event: Event) -> str:
    payload = [
        event.type,
        event.occurred_at.astimezone(UTC).isoformat(),
        event.customer_id,
        event.subject_id,
        whole(defined_jsonable(event.attributes)),
    ]
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


@dataclass
class Voucher:
    code: str
    amount: Decimal


class Tier(str):
    pass


leaves = st.one_of(
    scalars,
    st.dates(),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.builds(Voucher, text, st.decimals(allow_nan=False, allow_infinity=False, places=2)),
    text.map(Tier),
)
nested = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.frozensets(st.one_of(text, st.integers()), max_size=3),
        st.dictionaries(st.one_of(text, st.integers(), text.map(Tier)), inner, max_size=3),
    ),
    max_leaves=8,
)


@PROPERTY
@given(nested)
def test_jsonable_is_its_definition(value: Any) -> None:
    assert repr(jsonable(value)) == repr(defined_jsonable(value))


@PROPERTY
@given(
    st.sampled_from([*BUILTIN, "booking.missed"]),
    instants,
    st.one_of(st.none(), text),
    st.one_of(
        st.dictionaries(text, nested, max_size=5),
        st.dictionaries(st.one_of(text, st.integers()), nested, max_size=3),
    ),
)
def test_fingerprint_is_its_definition(
    type_: str, at: datetime, subject: str | None, attributes: dict[Any, Any]
) -> None:
    event = Event("e1", type_, at, "c1", subject, attributes)
    try:
        expected = defined_fingerprint(event)
    except TypeError:  # keys of mixed types cannot be sorted: the same error either way
        try:
            fingerprint(event)
        except TypeError:
            return
        raise AssertionError("fingerprint took what its definition refuses") from None
    assert fingerprint(event) == expected


def test_a_parsed_event_and_its_json_form_share_a_fingerprint() -> None:
    sim = Simulator(SimulationSettings(orders=200, customers=50))
    for raw in sim.advance(sim.horizon):
        event = parse_event(raw)
        assert isinstance(event, Event)
        again = parse_event(event_to_json(event))
        assert fingerprint(event) == fingerprint(again) == defined_fingerprint(event)
