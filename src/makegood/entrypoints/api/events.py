"""POST /v1/events: one event or a batch of up to 1000, idempotent on the event id."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from makegood.adapters.json_input import BadJson, read_json
from makegood.adapters.sql import dashboard_queries as dq
from makegood.domain.event import ENVELOPE, MAX_ID, MAX_RAW, Quarantined
from makegood.domain.limits import printable
from makegood.entrypoints.api.deps import Ingester, Services, Svc
from makegood.entrypoints.api.models import IngestOut, Problem, event_schema

MAX_BATCH = 1000
router = APIRouter(prefix="/v1", tags=["events"])

_EVENT = event_schema()
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        _EVENT,
                        {"type": "array", "items": _EVENT, "minItems": 1, "maxItems": MAX_BATCH},
                    ]
                }
            }
        },
    }
}


def _problem(status: int, field: str, reason: str, index: int | None = None) -> JSONResponse:
    return JSONResponse({"detail": [{"index": index, "field": field, "reason": reason}]}, status)


def _fold(raw: Any) -> Any:
    """Unknown top-level fields are kept as attributes (as data, never interpreted)."""
    if not isinstance(raw, dict) or set(raw) <= ENVELOPE:
        return raw
    attributes = raw.get("attributes")
    if attributes is not None and not isinstance(attributes, dict):
        return raw
    extra = {k: v for k, v in raw.items() if k not in ENVELOPE}
    folded = {k: v for k, v in raw.items() if k in ENVELOPE}
    folded["attributes"] = {**extra, **(attributes or {})}
    return folded


def quarantine_body(services: Services, body: bytes, reason: str) -> None:
    """A body that is not events at all is kept too, with its reason (bytes not UTF-8 escaped)."""
    raw = body[: MAX_RAW * 4].decode("utf-8", "backslashreplace")
    app = services.app
    with app.store.session() as session:
        session.add_quarantined([Quarantined("api", None, raw, "body", reason)], app.clock.now())


def ingest(services: Services, raws: list[Any], source: str = "api") -> tuple[int, dict[str, Any]]:
    # ids as they can be answered and looked up: a NUL or a lone surrogate escaped
    ids = [
        printable(r["id"]) if isinstance(r, dict) and isinstance(r.get("id"), str) else None
        for r in raws
    ]
    with services.app.store.engine.connect() as conn:
        known = dq.known_event_ids(conn, [i for i in ids if i and len(i) <= MAX_ID])
    report = services.app.engine.ingest(raws, source=source)
    rejected = dict(report.rejected)
    results: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, event_id in enumerate(ids):
        rejection = rejected.get(index)
        if rejection is not None:
            results.append(
                {
                    "index": index,
                    "id": event_id,
                    "status": "rejected",
                    "field": rejection.field,
                    "reason": rejection.reason,
                }
            )
            continue
        duplicate = event_id in known or event_id in seen
        seen.add(str(event_id))
        results.append(
            {"index": index, "id": event_id, "status": "duplicate" if duplicate else "accepted"}
        )
    services.telemetry.events(report.accepted, report.duplicates, len(report.rejected))
    body = {
        "accepted": report.accepted,
        "duplicates": report.duplicates,
        "rejected": len(report.rejected),
        "results": results,
    }
    if report.rejected:
        body["detail"] = [
            {"index": r["index"], "field": r["field"], "reason": r["reason"], "event_id": r["id"]}
            for r in results
            if r["status"] == "rejected"
        ]
        return 422, body
    return 200, body


@router.post(
    "/events",
    response_model=IngestOut,
    openapi_extra=_BODY,
    responses={
        422: {
            "model": Problem,
            "description": "Some events were refused: "
            "`detail` names each one's index and field; the others were "
            "accepted (see `results`)",
        },
        413: {"model": Problem, "description": "Body or batch too large"},
    },
)
async def post_events(request: Request, who: Ingester, services: Svc) -> JSONResponse:
    """Ingest one event (an object) or a batch (an array of up to 1000).

    Idempotent on the event id: sending an event again answers `duplicate` and changes nothing.
    Refused events are quarantined with their reason and never stop the others."""
    body = await request.body()
    try:
        raw = read_json(body)
    except BadJson as bad:
        await run_in_threadpool(quarantine_body, services, body, str(bad))
        services.telemetry.events(0, 0, 1)
        return _problem(422, "body", str(bad))
    raws = raw if isinstance(raw, list) else [raw]
    if len(raws) > MAX_BATCH:
        return _problem(413, "body", f"at most {MAX_BATCH} events per request, got {len(raws)}")
    if not raws:
        await run_in_threadpool(quarantine_body, services, body, "the batch is empty")
        services.telemetry.events(0, 0, 1)
        return _problem(422, "body", "the batch is empty")
    status, result = await run_in_threadpool(ingest, services, [_fold(r) for r in raws])
    return JSONResponse(result, status)
