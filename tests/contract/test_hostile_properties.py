"""The hostile-input campaign, kept as property tests: arbitrary JSON values, strings with NUL
and lone surrogates, extreme numbers and dates go into `parse_event`, the HTTP API (the ASGI
app over httpx, on SQLite and PostgreSQL) and `makegood ingest` (files written here). Never a
5xx, never a crash; every refusal is quarantined with its field (and its line, for files)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from makegood.adapters.sql import schema as t
from makegood.adapters.sql.auth import create_token
from makegood.bootstrap import bootstrap
from makegood.config import Settings
from makegood.domain.event import BUILTIN, Event, Quarantined, parse_event
from makegood.domain.limits import DEFAULT_LIMITS
from makegood.entrypoints.api import create_app
from makegood.entrypoints.cli import app as cli

from .conftest import Database

NASTY = ["\x00", "\ud800", "\udfff", "\udc80", "\u202e", "\ufeff", "\U0010ffff", "\\u0000", "é"]
text = st.lists(st.one_of(st.characters(), st.sampled_from(NASTY)), max_size=12).map("".join)
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.sampled_from([0, -1, 10**12, 1e308, 1e-320]),
)
offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda m: timezone(timedelta(minutes=m))
)
dates = st.one_of(
    st.datetimes(timezones=offsets).map(datetime.isoformat),
    st.datetimes().map(datetime.isoformat),  # naive
    st.sampled_from(
        [
            "0001-01-01T00:00:00+01:00",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59-05:00",
            "9999-12-31T23:59:59Z",
            "9000-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
        ]
    ),
    text,
)
scalars = st.one_of(st.none(), st.booleans(), numbers, text, dates)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3)
)
identifiers = st.one_of(text, st.integers(), values, st.text(min_size=1, max_size=8))
types = st.one_of(st.sampled_from([*BUILTIN, "booking.missed"]), text, values)
events = st.one_of(
    st.fixed_dictionaries(
        {"id": identifiers, "type": types, "occurred_at": dates, "customer_id": identifiers},
        optional={
            "subject_id": identifiers,
            "attributes": st.one_of(st.dictionaries(text, values, max_size=4), values),
            "extra": values,
        },
    ),
    values,
)
PROPERTY = settings(
    deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
)


def printable(value: str | None) -> bool:
    if value is None:
        return True
    value.encode("utf-8")  # no lone surrogate
    return "\x00" not in value


def storable(value: Any) -> bool:
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(storable(k) and storable(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(storable(v) for v in value)
    return True


@PROPERTY
@given(events)
def test_parse_event_never_raises_and_accepts_only_what_any_store_holds(raw: Any) -> None:
    parsed = parse_event(raw)
    if isinstance(parsed, Event):
        assert DEFAULT_LIMITS.earliest <= parsed.occurred_at <= DEFAULT_LIMITS.latest
        assert storable([parsed.id, parsed.type, parsed.customer_id, parsed.subject_id])
        assert storable(dict(parsed.attributes))
    else:
        assert printable(parsed.field) and printable(parsed.event_id)
        held = Quarantined("api", None, json.dumps(raw, default=str), parsed.field, parsed.reason)
        assert all(printable(v) for v in (held.raw, held.field, held.reason))


# the API ----------------------------------------------------------------------------------------
@pytest.fixture
def api(database: Database) -> Iterator[tuple[TestClient, sa.Engine]]:
    settings = Settings(database_url=database.url, database_schema=database.schema)
    app = bootstrap(settings)
    token = create_token(app.store.engine, "ingest", "property", datetime.now(UTC))[1]
    with TestClient(create_app(app), headers={"Authorization": f"Bearer {token}"}) as client:
        yield client, app.store.engine
    app.store.dispose()


def _quarantined(engine: sa.Engine) -> int:
    with engine.connect() as c:
        return int(c.scalar(sa.select(sa.func.count()).select_from(t.quarantine)) or 0)


def test_the_api_never_answers_5xx_and_quarantines_every_refusal(
    api: tuple[TestClient, sa.Engine],
) -> None:
    client, engine = api

    @settings(PROPERTY, max_examples=40)
    @given(st.lists(events, min_size=1, max_size=5))
    def post(batch: list[Any]) -> None:
        before = _quarantined(engine)
        body = json.dumps(batch if len(batch) > 1 else batch[0], default=str)
        response = client.post(
            "/v1/events", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code in (200, 422), response.text
        answer = response.json()
        refused = [r for r in answer.get("results", []) if r["status"] == "rejected"]
        if "results" not in answer:  # the body itself was refused
            refused = answer["detail"]
        assert all(r["field"] is not None and printable(r["field"]) for r in refused)
        assert _quarantined(engine) == before + len(refused)

    post()


# makegood ingest -----------------------------------------------------------------------------
lines = st.one_of(
    events.map(lambda e: json.dumps(e, default=str).encode()),
    st.binary(max_size=40),
    st.sampled_from(
        [
            b"[" * 5_000 + b"]" * 5_000,
            b'{"n": ' + b"7" * 5_000 + b"}",
            b"\xff\xfe\x00",
            b'{"id": "x", "type": "x.y", "occurred_at": "9999-12-31T23:00:00-05:00"}',
        ]
    ),
)


def test_ingest_never_aborts_and_quarantines_every_bad_line_with_its_number(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    runner = CliRunner()

    @settings(PROPERTY, max_examples=15)
    @given(st.lists(lines, min_size=1, max_size=6))
    def ingest(content: list[bytes]) -> None:
        folder = tmp_path_factory.mktemp("ingest")
        path = folder / "events.jsonl"
        path.write_bytes(b"\n".join(line.replace(b"\n", b" ") for line in content) + b"\n")
        url = f"sqlite:///{folder / 'store.db'}"
        result = runner.invoke(cli, ["ingest", str(path), "--db", url, "--quiet"])
        assert result.exit_code in (0, 2), result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        reported = {
            int(line.split(":")[1])
            for line in result.output.splitlines()
            if line.startswith(f"{path}:")
        }
        engine = sa.create_engine(url)
        with engine.connect() as c:
            rows = c.execute(sa.select(t.quarantine.c.line, t.quarantine.c.reason)).all()
        engine.dispose()
        assert {row.line for row in rows} == reported
        assert all(row.line is not None and row.reason for row in rows)

    ingest()
