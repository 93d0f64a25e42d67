"""The API and dashboard in-process (FastAPI's TestClient) on a real SQLite file or a
PostgreSQL schema of its own, with a frozen clock, a token per role and event helpers."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from helpers import T0
from makegood.adapters.sql.auth import create_token
from makegood.bootstrap import App, bootstrap
from makegood.config import Settings
from makegood.entrypoints.api import create_app
from makegood.testing import FrozenClock

from .server import roomy_policy

SECRET = "desk-secret"
ROLES = ("ingest", "agent", "lead", "admin")


def desk_policy(directory: Path) -> Path:
    """The roomy test policy, with an incident compensation above the automatic tier (so it
    waits for an approval) and alerts that open incidents."""
    path = roomy_policy(directory)
    text = path.read_text(encoding="utf-8")
    text, n = re.subn(
        r"(alerts: true.*\n\s+kind: voucher\n\s+)amount: \{fixed: \d+,",
        r"\1amount: {fixed: 20,",
        text,
    )
    assert n == 1, "the shipped policy's incident amount moved"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Desk:
    app: App
    clock: FrozenClock
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, role: str | None = None, https: bool = False) -> TestClient:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        base = "https://testserver" if https else "http://testserver"
        return TestClient(
            create_app(self.app), base_url=base, headers=headers, follow_redirects=False
        )

    def signed_in(self, role: str, client: TestClient | None = None) -> TestClient:
        """A browser-like client with a dashboard session for `role`."""
        client = client or self.client()
        form = client.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf, form.text
        answer = client.post("/login", data={"token": self.tokens[role], "csrf": csrf.group(1)})
        assert answer.status_code == 303, answer.text
        return client

    def ingest(self, events: list[dict[str, Any]]) -> None:
        report = self.app.engine.ingest(events, "test")
        assert not report.rejected, report

    def tick(self, delta: timedelta = timedelta()) -> None:
        self.clock.advance(delta)
        self.app.engine.tick()


def at(minutes: float = 0) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def profile(customer: str, locale: str = "en", tier: str = "standard") -> dict[str, Any]:
    return {
        "id": f"{customer}-profile",
        "type": "customer.upserted",
        "occurred_at": at(),
        "customer_id": customer,
        "attributes": {
            "name": f"Name {customer}",
            "tier": tier,
            "locale": locale,
            "email": f"{customer}@example.com",
        },
    }


def cancelled(customer: str, minutes: float = 0) -> dict[str, Any]:
    """An order the business cancelled: a critical case that waits for a person."""
    return {
        "id": f"{customer}-cancel",
        "type": "order.cancelled",
        "occurred_at": at(minutes),
        "customer_id": customer,
        "subject_id": f"{customer}-o1",
        "attributes": {"by": "business"},
    }


@contextmanager
def database(kind: str, directory: Path) -> Iterator[Settings]:
    if kind == "sqlite":
        yield Settings(database_url=f"sqlite:///{directory / 'desk.db'}")
        return
    url = os.environ.get("MAKEGOOD_TEST_DATABASE_URL")
    if not url:
        pytest.skip("set MAKEGOOD_TEST_DATABASE_URL to run the PostgreSQL tests")
    schema = f"mg_{secrets.token_hex(6)}"
    admin = sa.create_engine(url)
    try:
        with admin.begin() as c:
            c.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        try:
            yield Settings(database_url=url, database_schema=schema)
        finally:
            with admin.begin() as c:
                c.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        admin.dispose()


@contextmanager
def make_desk(
    kind: str, directory: Path, edit: Callable[[str], str] | None = None
) -> Iterator[Desk]:
    """`edit` changes the policy's YAML text first (e.g. a CES follow-up)."""
    with database(kind, directory) as base:
        policy = desk_policy(directory)
        if edit is not None:
            policy.write_text(edit(policy.read_text(encoding="utf-8")), encoding="utf-8")
        settings = Settings(
            database_url=base.database_url,
            database_schema=base.database_schema,
            policy=policy,
            secret=SECRET,
            outbox_file=directory / "outbox.jsonl",
        )
        clock = FrozenClock(T0)
        app = bootstrap(settings, clock=clock, site="https://help.example.com")
        desk = Desk(app, clock)
        for role in ROLES:
            desk.tokens[role] = create_token(app.store.engine, role, f"{role}-1", T0)[1]
        try:
            yield desk
        finally:
            app.store.dispose()
