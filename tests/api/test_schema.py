"""The API against its own OpenAPI document, on SQLite and (when MAKEGOOD_TEST_DATABASE_URL is
set) PostgreSQL: generated requests never cause a server error, every status and body answered
is the one documented, and a request valid by the document is accepted (schemathesis' default
checks, bounded examples)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
import sqlalchemy as sa  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

from makegood.adapters.sql.auth import create_token  # noqa: E402
from makegood.bootstrap import bootstrap  # noqa: E402
from makegood.config import Settings  # noqa: E402
from makegood.entrypoints.api import create_app  # noqa: E402

from .server import roomy_policy  # noqa: E402

pytestmark = pytest.mark.slow
URL_VARIABLE = "MAKEGOOD_TEST_DATABASE_URL"
TOKEN: dict[str, str] = {}


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str | None]]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('schema') / 'schema.db'}", None
        return
    url = os.environ.get(URL_VARIABLE)
    if not url:
        pytest.skip(f"set {URL_VARIABLE} to run the schema checks on PostgreSQL")
    schema = f"mg_{secrets.token_hex(6)}"
    admin = sa.create_engine(url)
    with admin.begin() as c:
        c.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield url, schema
    finally:
        with admin.begin() as c:
            c.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


class Switch:
    """One ASGI app in front of the backend under test: the document, and the strategies
    schemathesis builds from it (seconds of regex compiling), are made once for all backends."""

    def __init__(self) -> None:
        self.target: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.target(scope, receive, send)


SWITCH = Switch()
STRATEGIES: list[Any] = []


@pytest.fixture(scope="module")
def api_schema(
    database: tuple[str, str | None], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    url, schema = database
    app = bootstrap(
        Settings(
            database_url=url,
            database_schema=schema,
            policy=roomy_policy(Path(tmp_path_factory.mktemp("policy"))),
            secret="schema-secret",
        )
    )
    TOKEN["admin"] = create_token(app.store.engine, "admin", "schema-admin", datetime.now(UTC))[1]
    SWITCH.target = create_app(app)
    document = schemathesis.openapi.from_asgi("/openapi.json", SWITCH)
    if not STRATEGIES:
        STRATEGIES.extend(r.ok().as_strategy() for r in document.get_all_operations())
    yield document
    app.store.dispose()


def test_the_api_keeps_to_its_document(api_schema: Any) -> None:
    # every operation in turn (schemathesis' pytest plugin cannot take a parametrized fixture)
    headers = {"Authorization": f"Bearer {TOKEN['admin']}"}
    assert len(STRATEGIES) >= 15
    for strategy in STRATEGIES:

        @given(strategy)
        @settings(
            max_examples=10,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,  # the same requests on every run: a failure here is never luck
            database=None,
        )
        def keeps_to_it(case: Any) -> None:
            # a paging cursor is opaque: one this server did not hand out is refused (422) by
            # design, which no schema can express, so a request with one is not "valid data"
            opaque = "cursor" in (case.query or {})
            excluded = [positive_data_acceptance] if opaque else []
            case.call_and_validate(headers=headers, excluded_checks=excluded)

        keeps_to_it()


def test_the_document_declares_every_refusal(api_schema: Any) -> None:
    document = api_schema.raw_schema
    events = document["paths"]["/v1/events"]["post"]["responses"]
    assert {"200", "400", "401", "403", "413", "422"} <= set(events)
    assert sum(bool(o.get("security")) for ops in document["paths"].values() for o in ops.values())
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if operation.get("security"):  # the bearer token's refusals
                assert {"401", "403"} <= set(operation["responses"]), (method, path)
