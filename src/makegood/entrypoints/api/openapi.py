"""The OpenAPI document says every status an operation can answer, not only its success.

FastAPI documents what a route declares; the refusals that come from around the route (the
bearer check, the body size limit in `Guard`, a body that is not JSON, validation) are added
here once, for every operation they apply to, so that the document and the behaviour agree
(the schemathesis run in tests/api/test_schema.py checks both ways).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from makegood.domain.event import NO_NUL

_PROBLEM = {"$ref": "#/components/schemas/Problem"}
SECURED = {
    "401": "No bearer token, or one that is not valid",
    "403": "The token's role may not do this",
}
WITH_BODY = {
    "400": "The body could not be read as JSON, or the URL holds a NUL character",
    "413": "The body is larger than the server accepts (`serve --max-body-mb`)",
    "422": "The request is not valid: `detail` names the field and the reason",
}
WITH_PARAMETERS = {"400": "The URL holds a NUL character", "422": WITH_BODY["422"]}
HEALTH = {"503": "The database does not answer"}


def _declare(operation: dict[str, Any], statuses: dict[str, str]) -> None:
    responses = operation.setdefault("responses", {})
    for status, description in statuses.items():
        responses.setdefault(
            status,
            {"description": description, "content": {"application/json": {"schema": _PROBLEM}}},
        )


def _no_nul(schema: dict[str, Any]) -> None:
    """A string parameter documents that `Guard` refuses a NUL in the URL (400)."""
    if schema.get("type") == "string":
        schema.setdefault("pattern", NO_NUL)
    for branch in schema.get("anyOf", []):
        _no_nul(branch)


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """Add the error responses each operation can give to an OpenAPI document (in place)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault(
        "Problem", {"type": "object", "properties": {"detail": {}}, "required": ["detail"]}
    )
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            if operation.get("security"):
                _declare(operation, SECURED)
            if operation.get("requestBody"):
                _declare(operation, WITH_BODY)
            elif operation.get("parameters"):
                _declare(operation, WITH_PARAMETERS)
            for parameter in operation.get("parameters", []):
                _no_nul(parameter.get("schema", {}))
            if path == "/healthz":
                _declare(operation, HEALTH)
    return document


def install(api: FastAPI) -> None:
    """Make `api.openapi()` (and /openapi.json) answer the completed document."""

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            document = get_openapi(
                title=api.title,
                version=api.version,
                description=api.description,
                routes=api.routes,
            )
            api.openapi_schema = complete(document)
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
