"""POST /v1/sources/{name}: a business system's own webhook, mapped to events by the policy.

No bearer token: webhook senders cannot send ours. The source's signature (or shared token) on
the raw body is the authentication, checked before anything is parsed or stored. Then:
401 a bad or missing signature, or a source whose secret is not configured (fail closed;
nothing stored); 404 an unknown source; 422 a payload that does not map (quarantined with the
source and the reason); otherwise the events go through the same path as POST /v1/events and
the answer is the same (`results` per event, 422 when one is refused).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from makegood.adapters.source_auth import verify
from makegood.domain.event import Quarantined, Rejection
from makegood.domain.source import CompiledSource, map_payload
from makegood.entrypoints.api.deps import Services, Svc
from makegood.entrypoints.api.events import MAX_BATCH, ingest
from makegood.entrypoints.api.models import IngestOut, Problem

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["sources"])
_RAW_BODY = {
    "requestBody": {
        "required": True,
        "description": "The source's own JSON payload, exactly as it sends it",
        "content": {"application/json": {"schema": {}}},
    }
}


def _problem(status: int, field: str, reason: str) -> JSONResponse:
    return JSONResponse({"detail": [{"index": None, "field": field, "reason": reason}]}, status)


def quarantine(services: Services, source: str, body: bytes, rejection: Rejection) -> None:
    """Keep a payload that did not map, with its reason: nothing received is lost."""
    raw = body.decode("utf-8", errors="replace")[:10_000]
    item = Quarantined(source, None, raw, rejection.field, rejection.reason, rejection.event_id)
    services.app.engine.quarantine([item])
    services.telemetry.events_rejected.inc()


def receive(
    services: Services, source: CompiledSource, body: bytes, payload: Any, headers: Any, query: Any
) -> tuple[int, dict[str, Any]]:
    label = f"source:{source.name}"
    mapped = map_payload(source, payload, headers, query)
    if isinstance(mapped, Rejection):
        quarantine(services, label, body, mapped)
        detail = [{"index": None, "field": mapped.field, "reason": mapped.reason}]
        return 422, {"accepted": 0, "duplicates": 0, "rejected": 1, "results": [], "detail": detail}
    if not mapped:  # no entry's `when` held: a payload this policy has no use for
        return 200, {"accepted": 0, "duplicates": 0, "rejected": 0, "results": []}
    if len(mapped) > MAX_BATCH:
        return 413, {"detail": [{"field": "body", "reason": "maps to too many events"}]}
    return ingest(services, mapped, source=label)


@router.post(
    "/sources/{name}",
    response_model=IngestOut,
    openapi_extra=_RAW_BODY,
    responses={
        401: {
            "model": Problem,
            "description": "Bad or missing signature, or no secret configured; nothing stored",
        },
        404: {"model": Problem, "description": "No source of that name in the policy"},
        422: {
            "model": Problem,
            "description": "The payload does not map (quarantined), or an event it maps to "
            "was refused (`detail` names the field)",
        },
        413: {"model": Problem, "description": "Body too large, or too many events"},
    },
)
async def post_source(name: str, request: Request, services: Svc) -> JSONResponse:
    """Ingest a webhook from a source the policy names under `sources:`.

    Authenticated by the source's signature, not by a bearer token. One payload gives zero,
    one or several events (by the mapping); each event is idempotent on its mapped id."""
    source = services.app.policy.source(name)
    if source is None:
        return _problem(404, "name", f"no source named {name!r} in the policy")
    secret = services.app.source_secrets.get(name, "")
    if not secret:  # refused like a bad signature: a request nobody can verify is not trusted
        log.warning(
            "source %s: %s is not set; its requests are refused", name, source.spec.auth.secret_env
        )
        return _problem(401, "signature", "no secret is configured for this source")
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    query = dict(request.query_params)
    refused = verify(source, secret, body, headers, query, services.app.clock.now())
    if refused is not None:
        services.telemetry.signature_refused.inc()
        return _problem(401, "signature", refused)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        rejection = Rejection("body", f"{name}: is not valid JSON")
        await run_in_threadpool(quarantine, services, f"source:{name}", body, rejection)
        return _problem(422, "body", rejection.reason)
    status, result = await run_in_threadpool(
        receive, services, source, body, payload, headers, query
    )
    return JSONResponse(result, status)
