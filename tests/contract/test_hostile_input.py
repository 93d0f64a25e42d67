"""Poison inputs on every backend (memory, SQLite, PostgreSQL): the bad event is refused with
its field and quarantined in a form any store can hold, the others of the batch are stored; the
HTTP API answers a clear 4xx, never a 5xx, and a refused body is quarantined too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from makegood.adapters.policy_file import load_policy
from makegood.adapters.sql.auth import create_token
from makegood.bootstrap import bootstrap
from makegood.config import Settings
from makegood.entrypoints.api import create_app
from makegood.service_layer.engine import Engine
from makegood.testing import FrozenClock, counting_codes

from .conftest import Database, read_back

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def event(ident: str, **change: Any) -> dict[str, Any]:
    return {
        "id": ident,
        "type": "order.placed",
        "occurred_at": "2026-11-02T11:00:00Z",
        "customer_id": f"c-{ident}"[:40],
        "subject_id": "o-1",
        "attributes": {"promised_at": "2026-11-02T11:30:00Z", "value": 20},
        **change,
    }


POISON = [
    (event("nul-in-id\x00"), "id"),
    (event("surrogate-id-\ud800"), "id"),
    (event("nul-customer", customer_id="c\x00"), "customer_id"),
    (event("surrogate-type", type="order.\udcff"), "type"),
    (event("nul-key", attributes={"k\x00": 1}), "attributes.k\\x00"),
    (event("nested", attributes={"a": [{"b": "\ud800"}]}), "attributes.a[0].b"),
    (event("nan", attributes={"value": float("nan")}), "attributes.value"),
    (event("inf", attributes={"x": float("inf")}), "attributes.x"),
    (event("year-1", occurred_at="0001-01-01T00:00:00+01:00"), "occurred_at"),
    (event("year-1z", occurred_at="0001-01-01T00:00:00Z"), "occurred_at"),
    (event("year-9999", occurred_at="9999-12-31T23:00:00-05:00"), "occurred_at"),
    (event("year-9000", occurred_at="9000-01-01T00:00:00Z"), "occurred_at"),
    (event("long-id-" + "x" * 300), "id"),
    (event("long-type", type="a." + "b" * 150), "type"),
]
GOOD = [event("good-1"), event("good-2", customer_id="c-2", subject_id="o-2")]


def test_a_poison_event_is_quarantined_and_the_batch_stored(store: Any) -> None:
    engine = Engine(
        store, load_policy(), FrozenClock(NOW), event_time=False, new_code=counting_codes()
    )
    batch = [GOOD[0], *(raw for raw, _ in POISON), GOOD[1]]
    report = engine.ingest(batch, source="test")
    assert report.accepted == 2
    assert [(i, r.field) for i, r in report.rejected] == [
        (i + 1, field) for i, (_, field) in enumerate(POISON)
    ]
    stored = read_back(store)
    assert stored.event_ids == ["good-1", "good-2"]
    assert [q.field for q in stored.quarantine] == [field for _, field in POISON]
    assert stored.quarantine[0].event_id == "nul-in-id\\x00"
    assert stored.quarantine[1].event_id == "surrogate-id-\\ud800"
    assert "\\u0000" in stored.quarantine[0].raw  # the input as JSON text, escaped


# the HTTP API on SQLite and PostgreSQL ------------------------------------------------------
@pytest.fixture
def api(database: Database, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        database_url=database.url, database_schema=database.schema, secret="hostile-secret"
    )
    app = bootstrap(settings)
    token = create_token(app.store.engine, "admin", "hostile", datetime.now(UTC))[1]
    with TestClient(
        create_app(app, max_body=256 * 1024), headers={"Authorization": f"Bearer {token}"}
    ) as client:
        client.app_store = app.store  # type: ignore[attr-defined]
        yield client
    app.store.dispose()


def _now(raw: dict[str, Any]) -> dict[str, Any]:
    """The event moved to today, so that the wall clock's accepted range holds it."""
    today = datetime.now(UTC).replace(microsecond=0)
    return {**raw, "occurred_at": today.isoformat()}


def quarantined(client: TestClient) -> list[Any]:
    return read_back(client.app_store).quarantine  # type: ignore[attr-defined]


def test_the_api_refuses_each_poison_event_and_stores_the_others(api: TestClient) -> None:
    batch = [_now(GOOD[0]), *(_now(r) if f != "occurred_at" else r for r, f in POISON)]
    batch.append(_now(GOOD[1]))
    body = json.dumps(batch).encode()  # lone surrogates travel as \ud800 escapes
    response = api.post("/v1/events", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    found = response.json()
    assert found["accepted"] == 2
    assert [d["field"] for d in found["detail"]] == [field for _, field in POISON]
    assert [q.field for q in quarantined(api)] == [field for _, field in POISON]


@pytest.mark.parametrize("depth", [900, 10_000])
def test_a_deeply_nested_body_is_a_clear_422_and_quarantined(api: TestClient, depth: int) -> None:
    body = b"[" * depth + b"]" * depth
    response = api.post("/v1/events", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0] == {
        "index": None,
        "field": "body",
        "reason": "nests deeper than 64 levels",
    }
    assert [(q.field, q.reason) for q in quarantined(api)] == [
        ("body", "nests deeper than 64 levels")
    ]


def test_a_body_not_json_is_quarantined_with_its_reason(api: TestClient) -> None:
    for body in (b'{"n": ' + b"9" * 5_000 + b"}", b"\xff\xfe[]", b'{"id": "a\x00"'):
        response = api.post("/v1/events", content=body)
        assert response.status_code == 422, body[:20]
    reasons = [q.reason for q in quarantined(api)]
    assert reasons[0].startswith("not valid JSON: Exceeds the limit (4300 digits)")
    assert reasons[1] == "not valid UTF-8 (byte 1)"
    assert reasons[2].startswith("not valid JSON")
    assert all("\x00" not in q.raw for q in quarantined(api))


def test_a_year_one_event_is_refused_and_the_customer_stays_readable(api: TestClient) -> None:
    year_one = event("y1", customer_id="c-y1", occurred_at="0001-01-01T00:00:00Z")
    response = api.post("/v1/events", json=[year_one, _now(event("y2", customer_id="c-y1"))])
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "occurred_at"
    cases = api.get("/v1/cases", params={"customer_id": "c-y1"})
    assert cases.status_code == 200


def test_a_body_over_the_cap_is_a_413_with_a_json_error(api: TestClient) -> None:
    response = api.post("/v1/events", content=b"[" + b" " * 300_000 + b"]")
    assert response.status_code == 413
    assert response.json()["detail"][0]["field"] == "body"
    assert response.headers["content-type"] == "application/json"


def test_an_attribute_over_the_cap_is_a_422_with_its_field(api: TestClient) -> None:
    text = {**_now(event("m1")), "type": "message.received", "attributes": {"text": "y" * 65_537}}
    response = api.post("/v1/events", json=[text])
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "attributes.text"
    assert response.json()["detail"][0]["reason"] == "is longer than 65,536 characters"
    small = {**text, "attributes": {"text": "y" * 100}}
    assert api.post("/v1/events", json=[small]).status_code == 200


def test_a_nul_in_the_url_is_a_400_not_a_500(api: TestClient) -> None:
    assert api.get("/v1/cases/c%00x").status_code == 400
    assert api.get("/v1/cases", params={"customer_id": "a\x00"}).status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        b'{"amount": 1e999999, "kind": "voucher"}',
        b'{"amount": NaN, "kind": "voucher"}',
        b'{"amount": "1", "kind": "voucher", "reason": "\\ud800"}',
    ],
)
def test_a_refused_body_echoing_what_json_cannot_carry_is_a_422(
    api: TestClient, body: bytes
) -> None:
    response = api.post(
        "/v1/cases/nope/compensations", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][0] == "body"
