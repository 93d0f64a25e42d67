"""POST /v1/sources/{name} on SQLite and PostgreSQL: signed payloads become events through the
engine (idempotent), a bad signature stores nothing, an unmappable payload is quarantined with
the source and the reason, and no bearer token is needed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from fastapi.testclient import TestClient

from makegood.adapters.source_auth import sign
from makegood.adapters.sql import schema as t
from makegood.bootstrap import App, bootstrap
from makegood.config import Settings
from makegood.entrypoints.api.app import create_app
from makegood.testing import FrozenClock

from .conftest import Database

SAMPLES = Path(__file__).parents[1] / "data" / "sources"
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
ENVIRON = {
    "SHOPIFY_WEBHOOK_SECRET": "shpss_test_secret",
    "STATUSPAGE_WEBHOOK_TOKEN": "status-token",
    "ZENDESK_WEBHOOK_SECRET": "zendesk-secret",
}


@pytest.fixture
def app(database: Database, tmp_path: Path) -> Iterator[App]:
    settings = Settings(
        database_url=database.url,
        database_schema=database.schema,
        outbox_file=tmp_path / "outbox.jsonl",
    )
    built = bootstrap(settings, clock=FrozenClock(NOW), environ=ENVIRON)
    yield built
    built.store.dispose()


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with TestClient(create_app(app)) as running:
        yield running


def payload(name: str) -> tuple[dict[str, str], bytes]:
    data = yaml.safe_load((SAMPLES / f"{name}.yaml").read_text(encoding="utf-8"))
    return {k: str(v) for k, v in data["headers"].items()}, json.dumps(data["body"]).encode()


def signed(app: App, source: str, name: str) -> tuple[dict[str, str], bytes]:
    headers, body = payload(name)
    compiled = app.policy.source(source)
    assert compiled is not None
    return {**headers, **sign(compiled, ENVIRON[compiled.spec.auth.secret_env], body, NOW)}, body


def stored(app: App, table: sa.Table) -> list[Any]:
    with app.store.engine.connect() as conn:
        return list(conn.execute(sa.select(table)))


def test_a_signed_shopify_order_is_ingested_once(app: App, client: TestClient) -> None:
    headers, body = signed(app, "shopify", "shopify_orders_create")
    first = client.post("/v1/sources/shopify", content=body, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["accepted"] == 2
    assert [r["status"] for r in first.json()["results"]] == ["accepted", "accepted"]
    again = client.post("/v1/sources/shopify", content=body, headers=headers)
    assert again.status_code == 200
    assert [r["status"] for r in again.json()["results"]] == ["duplicate", "duplicate"]
    ids = sorted(row.id for row in stored(app, t.events))
    assert ids == [
        "shopify:customer:order:820982911946154508",
        "shopify:order:820982911946154508:placed",
    ]


def test_delivery_after_placement_reaches_the_same_order(app: App, client: TestClient) -> None:
    for name in ("shopify_orders_create", "shopify_fulfillments_update"):
        headers, body = signed(app, "shopify", name)
        assert client.post("/v1/sources/shopify", content=body, headers=headers).status_code == 200
    with app.store.engine.connect() as conn:
        subject = conn.execute(
            sa.select(t.subjects).where(t.subjects.c.id == "820982911946154508")
        ).one()
    assert subject.customer_id == "jon@example.com"


def test_a_bad_or_missing_signature_stores_nothing(app: App, client: TestClient) -> None:
    headers, body = signed(app, "shopify", "shopify_orders_create")
    forged = {**headers, "X-Shopify-Hmac-Sha256": "AAAA" + headers["X-Shopify-Hmac-Sha256"][4:]}
    bad = client.post("/v1/sources/shopify", content=body, headers=forged)
    assert bad.status_code == 401
    assert bad.json()["detail"][0]["field"] == "signature"
    unsigned, _ = payload("shopify_orders_create")
    assert client.post("/v1/sources/shopify", content=body, headers=unsigned).status_code == 401
    token = client.post("/v1/sources/statuspage?token=wrong", content=b"{}")
    assert token.status_code == 401
    assert stored(app, t.events) == [] and stored(app, t.quarantine) == []


def test_the_signature_is_the_authentication_not_a_bearer_token(
    app: App, client: TestClient
) -> None:
    headers, body = signed(app, "zendesk", "zendesk_comment_added")
    response = client.post("/v1/sources/zendesk", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["id"] == "zendesk:comment:10417846497052"
    ok = client.post(
        "/v1/sources/statuspage?token=status-token", content=payload("statuspage_incident")[1]
    )
    assert ok.status_code == 200 and ok.json()["accepted"] == 1


def test_an_unmappable_payload_is_quarantined_with_source_and_reason(
    app: App, client: TestClient
) -> None:
    compiled = app.policy.source("shopify")
    assert compiled is not None
    body = json.dumps({"id": 1, "created_at": "2026-11-23T11:00:00Z"}).encode()  # no email
    headers = {"X-Shopify-Topic": "orders/create"}
    headers |= sign(compiled, ENVIRON["SHOPIFY_WEBHOOK_SECRET"], body, NOW)
    response = client.post("/v1/sources/shopify", content=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "events[0].customer"
    (kept,) = stored(app, t.quarantine)
    assert kept.source == "source:shopify"
    assert kept.field == "events[0].customer"
    assert "gave null" in kept.reason and json.loads(kept.raw) == json.loads(body)
    assert stored(app, t.events) == []


def test_a_mapped_event_the_envelope_refuses_is_quarantined_per_event(
    app: App, client: TestClient
) -> None:
    compiled = app.policy.source("statuspage")
    assert compiled is not None
    _, body = payload("statuspage_component_update")
    data = json.loads(body)
    data["component"]["name"] = ""  # an area must be a non-empty string
    response = client.post(
        "/v1/sources/statuspage?token=status-token", content=json.dumps(data).encode()
    )
    assert response.status_code == 422
    assert response.json()["results"][0]["field"] == "attributes.area"
    (kept,) = stored(app, t.quarantine)
    assert kept.source == "source:statuspage"


def test_unknown_source_no_secret_no_event_and_not_json(app: App, client: TestClient) -> None:
    assert client.post("/v1/sources/nobody", content=b"{}").status_code == 404
    app.source_secrets = {}
    assert client.post("/v1/sources/shopify", content=b"{}").status_code == 401
    app.source_secrets = dict(ENVIRON_SECRETS)
    other = client.post(
        "/v1/sources/shopify",
        content=b"{}",
        headers={"X-Shopify-Topic": "products/update"}
        | sign(_source(app, "shopify"), "shpss_test_secret", b"{}", NOW),
    )
    assert other.status_code == 200 and other.json() == {
        "accepted": 0,
        "duplicates": 0,
        "rejected": 0,
        "results": [],
    }
    garbage = client.post(
        "/v1/sources/shopify",
        content=b"not json",
        headers=sign(_source(app, "shopify"), "shpss_test_secret", b"not json", NOW),
    )
    assert garbage.status_code == 422 and garbage.json()["detail"][0]["field"] == "body"
    assert [row.source for row in stored(app, t.quarantine)] == ["source:shopify"]


ENVIRON_SECRETS = {
    "shopify": ENVIRON["SHOPIFY_WEBHOOK_SECRET"],
    "statuspage": ENVIRON["STATUSPAGE_WEBHOOK_TOKEN"],
    "zendesk": ENVIRON["ZENDESK_WEBHOOK_SECRET"],
}


def _source(app: App, name: str) -> Any:
    found = app.policy.source(name)
    assert found is not None
    return found


def test_bootstrap_reads_each_source_secret_from_the_environment(app: App) -> None:
    assert app.source_secrets == ENVIRON_SECRETS
