"""The API against its own OpenAPI document: generated requests never cause a server error."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from makegood.adapters.sql.auth import create_token  # noqa: E402
from makegood.bootstrap import bootstrap  # noqa: E402
from makegood.config import Settings  # noqa: E402
from makegood.entrypoints.api import create_app  # noqa: E402

from .server import roomy_policy  # noqa: E402

pytestmark = pytest.mark.slow


def _app(directory: Path) -> tuple[object, str]:
    app = bootstrap(
        Settings(
            database_url=f"sqlite:///{directory / 'schema.db'}",
            policy=roomy_policy(directory),
            secret="schema-secret",
        )
    )
    token = create_token(app.store.engine, "admin", "schema-admin", datetime.now(UTC))[1]
    return create_app(app), token


DIRECTORY = Path(__import__("tempfile").mkdtemp(prefix="makegood-schema-"))
API, TOKEN = _app(DIRECTORY)
schema = schemathesis.openapi.from_asgi("/openapi.json", API)


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error(case: schemathesis.Case) -> None:
    response = case.call(headers={"Authorization": f"Bearer {TOKEN}"})
    case.validate_response(response, checks=[not_a_server_error])
