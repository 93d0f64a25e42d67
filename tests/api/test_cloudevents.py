"""CloudEvents 1.0 on POST /v1/events, in-process on SQLite and PostgreSQL: the structured,
batch and binary modes as the official SDK sends them, idempotent on source + id; a malformed
CloudEvent refused with its field and kept in the quarantine, the others stored."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from cloudevents.core.bindings.http import to_binary_event, to_structured_event
from cloudevents.core.v1.event import CloudEvent

from helpers import T0
from makegood.adapters.sql import schema as t

from .desk import Desk


def attributes(n: int, **more: Any) -> dict[str, Any]:
    return {
        "id": f"A-{n}",
        "source": "/shop/orders",
        "type": "order.placed",
        "time": T0 + timedelta(minutes=n),
        "subject": f"o-{n}",
        "customerid": f"c-{n}",
        **more,
    }


DATA = {"promised_at": (T0 + timedelta(minutes=40)).isoformat(), "value": 23.5}


def stored(desk: Desk, table: sa.Table) -> list[Any]:
    with desk.app.store.engine.connect() as c:
        return list(c.execute(sa.select(table)))


def test_each_mode_is_accepted_and_idempotent(desk: Desk) -> None:
    client = desk.client("ingest")
    structured = to_structured_event(CloudEvent(attributes(1), DATA))
    binary = to_binary_event(CloudEvent(attributes(2), DATA))
    batch = [
        {**attributes(n), "time": (T0 + timedelta(minutes=n)).isoformat(), "specversion": "1.0",
         "data": DATA}
        for n in (3, 4)
    ]  # fmt: skip
    batch_body = json.dumps(batch).encode()
    batch_headers = {"content-type": "application/cloudevents-batch+json"}
    for _ in range(2):  # the second time, every event is a duplicate
        answers = [
            client.post("/v1/events", content=structured.body, headers=structured.headers),
            client.post("/v1/events", content=binary.body, headers=binary.headers),
            client.post("/v1/events", content=batch_body, headers=batch_headers),
        ]
        assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    assert [r["status"] for a in answers for r in a.json()["results"]] == ["duplicate"] * 4
    events = {row.id: row for row in stored(desk, t.events)}
    assert sorted(events) == [f"/shop/orders#A-{n}" for n in (1, 2, 3, 4)]
    first = events["/shop/orders#A-1"]
    assert (first.type, first.customer_id, first.subject_id) == ("order.placed", "c-1", "o-1")
    assert first.attributes["value"] == "23.5"  # money, exact


def test_a_malformed_cloudevent_is_refused_with_its_field_and_quarantined(desk: Desk) -> None:
    client = desk.client("ingest")
    good = {**attributes(5), "time": (T0 + timedelta(minutes=5)).isoformat(), "specversion": "1.0"}
    bad = {k: v for k, v in good.items() if k != "customerid"} | {"id": "A-6"}
    answer = client.post(
        "/v1/events",
        content=json.dumps([bad, good]).encode(),
        headers={"content-type": "application/cloudevents-batch+json"},
    )
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert [r["status"] for r in body["results"]] == ["rejected", "accepted"]
    assert body["detail"] == [
        {
            "index": 0,
            "field": "customerid",
            "reason": body["results"][0]["reason"],
            "event_id": "/shop/orders#A-6",
        }
    ]
    [kept] = stored(desk, t.quarantine)
    assert (kept.source, kept.field) == ("api:cloudevents", "customerid")
    assert [row.id for row in stored(desk, t.events)] == ["/shop/orders#A-5"]


def test_a_cloudevent_too_deep_or_not_json_is_refused_not_an_error(desk: Desk) -> None:
    client = desk.client("ingest")
    deep = b"[" * 10_000 + b"]" * 10_000
    for headers in (
        {"content-type": "application/cloudevents+json"},
        {"content-type": "application/json", "ce-specversion": "1.0", "ce-id": "x",
         "ce-source": "/s", "ce-type": "t", "ce-time": T0.isoformat()},
    ):  # fmt: skip
        answer = client.post("/v1/events", content=deep, headers=headers)
        assert answer.status_code == 422, answer.text
    assert (
        client.post(
            "/v1/events", content=b"{", headers={"content-type": "application/cloudevents+json"}
        ).json()["detail"][0]["field"]
        == "body"
    )


def test_what_a_refusal_keeps_and_the_batch_bounds(desk: Desk) -> None:
    client = desk.client("ingest")
    binary = {"ce-specversion": "1.0", "ce-id": "B-1", "ce-source": "/s", "ce-type": "t",
              "ce-time": T0.isoformat(), "content-type": "application/json"}  # fmt: skip
    answer = client.post("/v1/events", content=b'{"note": "kept"}', headers=binary)
    assert answer.status_code == 422  # no customerid
    [kept] = stored(desk, t.quarantine)
    assert '"B-1"' in kept.raw and "kept" in kept.raw  # the headers and the body
    batch = {"content-type": "application/cloudevents-batch+json"}
    assert client.post("/v1/events", content=b"[]", headers=batch).status_code == 422
    assert len(stored(desk, t.quarantine)) == 2  # the empty batch is kept too
    many = json.dumps([{"specversion": "1.0"}] * 1001).encode()
    assert client.post("/v1/events", content=many, headers=batch).status_code == 413
