"""Backends for the contract tests: every store passes the same tests on memory, SQLite and
PostgreSQL. A replay's `LogStore` stores no state (its engine keeps everything and writes once,
at the end), so the store contract has nothing to read back from it: its contract is that the
engine on it decides exactly what the engine decides on each of these stores
(test_replay_figures.py, on every store).

PostgreSQL runs when MAKEGOOD_TEST_DATABASE_URL is set
(``postgresql+psycopg://postgres@127.0.0.1:5432/test``): each test gets a schema of its own
(``mg_<hex>``), dropped afterwards, so parallel runs never collide.

This directory is a package (``__init__.py``) so that this file is imported as
``contract.conftest``: a second top-level ``conftest`` module would shadow ``tests/conftest.py``
for the tests that do ``from conftest import ev``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa

from makegood.adapters.sql import rows
from makegood.adapters.sql import schema as t
from makegood.adapters.sql.store import SqlStore
from makegood.domain.event import Quarantined
from makegood.domain.message import OutboxMessage
from makegood.domain.model import Case, Compensation, Customer, Failure, Subject, TimelineEntry
from makegood.testing import InMemoryStore

URL_VARIABLE = "MAKEGOOD_TEST_DATABASE_URL"
SKIP_POSTGRES = f"set {URL_VARIABLE} to run the PostgreSQL contract tests"
POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)


def postgres_url() -> str:
    url = os.environ.get(URL_VARIABLE)
    if not url:
        pytest.skip(SKIP_POSTGRES)
    return url


@dataclass
class Database:
    """A fresh, empty SQL database (a SQLite file, or a PostgreSQL schema of its own)."""

    kind: str
    url: str
    schema: str | None = None
    stores: list[SqlStore] = field(default_factory=list)

    def store(self, migrate: bool = True) -> SqlStore:
        """A new `SqlStore` (its own engine and connections) on this database."""
        store = SqlStore(self.url, schema=self.schema)
        self.stores.append(store)
        if migrate:
            store.migrate()
        return store

    def close(self) -> None:
        for store in self.stores:
            store.dispose()


@pytest.fixture(scope="session")
def shared(pytestconfig: pytest.Config) -> ModuleType:
    """``tests/conftest.py`` as pytest loaded it, for its helpers (`ev`, `T0`, `minutes`).

    Not ``from conftest import ev``: any other directory's conftest.py outside a package
    (tests/acceptance has one) takes the name ``conftest`` in sys.modules when it is collected,
    so that import finds the wrong module depending on which directories the run includes."""
    root = Path(__file__).resolve().parents[1] / "conftest.py"
    for plugin in pytestconfig.pluginmanager.get_plugins():
        if getattr(plugin, "__file__", None) and Path(plugin.__file__).resolve() == root:
            return plugin  # type: ignore[no-any-return]
    raise LookupError(f"pytest did not load {root}")


@pytest.fixture
def sqlite_database(tmp_path: Any) -> Iterator[Database]:
    database = Database("sqlite", f"sqlite:///{tmp_path / 'makegood.db'}")
    yield database
    database.close()


@pytest.fixture
def postgres_database() -> Iterator[Database]:
    url = postgres_url()
    schema = f"mg_{secrets.token_hex(6)}"
    admin = sa.create_engine(url)
    try:
        with admin.begin() as c:
            c.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        database = Database("postgres", url, schema)
        try:
            yield database
        finally:
            database.close()
            with admin.begin() as c:
                c.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        admin.dispose()


@pytest.fixture(params=["sqlite", POSTGRES])
def database(request: pytest.FixtureRequest) -> Database:
    """A fresh, unmigrated SQL database of each kind."""
    return request.getfixturevalue(f"{request.param}_database")


class StoreFactory:
    """Makes stores on one fresh database. Memory has one store only: every call answers it;
    SQL answers a new `SqlStore` (own engine, own connections) on the same database."""

    def __init__(self, kind: str, database: Database | None) -> None:
        self.kind = kind
        self.database = database
        self._memory: Any = None
        if database is None:
            self._memory = InMemoryStore()

    def __call__(self) -> Any:
        if self.database is None:
            return self._memory
        return self.database.store()

    @property
    def sql(self) -> bool:
        return self.database is not None


@pytest.fixture(params=["memory", "sqlite", POSTGRES])
def store_factory(request: pytest.FixtureRequest) -> StoreFactory:
    """Every store implementation: `InMemoryStore`, SQLite, PostgreSQL."""
    if request.param == "memory":
        return StoreFactory(request.param, None)
    return StoreFactory(request.param, request.getfixturevalue(f"{request.param}_database"))


@pytest.fixture
def store(store_factory: StoreFactory) -> Any:
    return store_factory()


# reading a store back, whatever it is ---------------------------------------------------------
@dataclass
class Stored:
    """Everything a store holds, as domain objects, in a stable order."""

    event_ids: list[str]
    quarantine: list[Quarantined]
    customers: dict[str, Customer]
    subjects: dict[str, Subject]
    cases: dict[str, Case]
    failures: dict[str, Failure]
    compensations: dict[str, Compensation]
    timeline: list[TimelineEntry]
    outbox: dict[str, OutboxMessage]  # by id


def read_back(store: Any) -> Stored:
    if isinstance(store, InMemoryStore):
        s = store.state
        return Stored(
            event_ids=sorted(s.events),
            quarantine=list(s.quarantine),
            customers=dict(s.customers),
            subjects=dict(s.subjects),
            cases=dict(s.cases),
            failures=dict(s.failures),
            compensations=dict(s.compensations),
            timeline=list(s.timeline),
            outbox={m.id: m for m in s.outbox.values()},
        )
    with store.engine.connect() as c:

        def every(table: sa.Table, of: Callable[[Any], Any]) -> dict[str, Any]:
            return {r.id: of(r) for r in c.execute(sa.select(table).order_by(table.c.id))}

        return Stored(
            event_ids=list(c.scalars(sa.select(t.events.c.id).order_by(t.events.c.id))),
            quarantine=[
                Quarantined(r.source, r.line, r.raw, r.field, r.reason, r.event_id)
                for r in c.execute(sa.select(t.quarantine).order_by(t.quarantine.c.id))
            ],
            customers=every(t.customers, rows.customer_of),
            subjects=every(t.subjects, rows.subject_of),
            cases=every(t.cases, rows.case_of),
            failures=every(t.failures, rows.failure_of),
            compensations=every(t.compensations, rows.compensation_of),
            timeline=[
                TimelineEntry(r.case_id, r.at, r.kind, r.actor, dict(r.data))
                for r in c.execute(sa.select(t.timeline).order_by(t.timeline.c.id))
            ],
            outbox=every(t.outbox, rows.outbox_of),
        )
