"""The store's JSON text (`adapters/jsontext.to_json`) and SQLite's datetime text: the fast
paths write what the standard library's encoder and SQLAlchemy's format wrote before them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from makegood.adapters.jsontext import json_default, to_json
from makegood.adapters.sql.store import _sqlite_time


def _standard(value: object) -> object:
    """What the value reads back as when json itself writes it."""
    return json.loads(json.dumps(value, default=json_default))


@dataclass(frozen=True)
class _Point:
    x: int


@pytest.mark.parametrize(
    "value",
    [
        {"at": datetime(2026, 11, 26, 11, 0, tzinfo=UTC), "day": date(2026, 11, 26)},
        {"at": datetime(2026, 11, 26, 11, 0, 0, 1234, tzinfo=timezone(timedelta(hours=-3)))},
        {"value": Decimal("228.60"), "name": "Gonçalo", "tags": {"b", "a"}},
        {"big": 10**20, "small": -(2**70)},  # past 64 bits: the standard encoder's turn
        {1: "an integer key", "nested": [{"x": 1.5e20}]},
        {"point": _Point(3)},
    ],
)
def test_to_json_reads_back_as_the_standard_encoder_wrote_it(value: object) -> None:
    text = to_json(value)
    assert " " not in text.replace("Gonçalo", "").replace("an integer key", "")  # compact
    assert json.loads(text) == _standard(value)


def test_to_json_keeps_non_ascii_as_text() -> None:
    assert to_json({"name": "não recebi"}) == '{"name":"não recebi"}'


def test_to_json_refuses_what_it_cannot_write() -> None:
    with pytest.raises(TypeError):
        to_json({"x": object()})


@given(
    st.datetimes(
        min_value=datetime(1970, 1, 2),  # noqa: DTZ001 (hypothesis: bounds are naive)
        max_value=datetime(9998, 12, 31),  # noqa: DTZ001
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
    )
)
def test_sqlite_time_is_sqlalchemys_format_in_utc(at: datetime) -> None:
    assert _sqlite_time(at) == at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
