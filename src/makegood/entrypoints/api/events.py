"""POST /v1/events: one event or a batch of up to 1000, idempotent on the event id."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from makegood.adapters.cloudevent import mode as cloudevents_mode
from makegood.adapters.json_input import BadJson, read_json
from makegood.domain.event import ENVELOPE, MAX_RAW, Quarantined
from makegood.domain.limits import printable
from makegood.entrypoints.api import cloudevents
from makegood.entrypoints.api.deps import Ingester, Services, Svc
from makegood.entrypoints.api.models import IngestOut, Problem, event_schema
from makegood.service_layer.engine import CONFLICT, CONFLICT_REASON, IngestReport

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
    """Each event's outcome comes from the engine, decided where the event is appended (in the
    transaction that appends it): accepted, duplicate (same id, same payload), conflict (same
    id, another payload: quarantined, not acted on) or rejected. In `serve` the append is made
    with the other requests waiting (`services.appender`, group commit)."""
    appender = services.appender
    if appender is not None:
        return answer_of(services, raws, appender.ingest(raws, source))
    return answer_of(services, raws, services.app.engine.ingest(raws, source=source))


def answer_of(
    services: Services, raws: list[Any], report: IngestReport
) -> tuple[int, dict[str, Any]]:
    """The status and body for `raws` from what the engine reported of them."""
    # ids as they can be answered and looked up: a NUL or a lone surrogate escaped
    ids = [
        printable(r["id"]) if isinstance(r, dict) and isinstance(r.get("id"), str) else None
        for r in raws
    ]
    rejected = dict(report.rejected)
    results: list[dict[str, Any]] = []
    for index, (event_id, outcome) in enumerate(zip(ids, report.outcomes, strict=True)):
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
        elif outcome == CONFLICT:
            results.append(
                {
                    "index": index,
                    "id": event_id,
                    "status": CONFLICT,
                    "field": "id",
                    "reason": CONFLICT_REASON,
                }
            )
        else:
            results.append({"index": index, "id": event_id, "status": outcome})
    services.telemetry.events(report.accepted, report.duplicates, len(report.rejected))
    body = {
        "accepted": report.accepted,
        "duplicates": report.duplicates,
        "rejected": len(report.rejected),
        "conflicts": report.conflicts,
        "results": results,
    }
    if report.rejected:
        body["detail"] = [
            {"index": r["index"], "field": r["field"], "reason": r["reason"], "event_id": r["id"]}
            for r in results
            if r["status"] == "rejected"
        ]
        return 422, body
    if report.conflicts:
        body["detail"] = [
            {"index": r["index"], "field": "id", "reason": r["reason"], "event_id": r["id"]}
            for r in results
            if r["status"] == CONFLICT
        ]
        return 409, body
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
        409: {
            "model": Problem,
            "description": "Some ids were already used by a different event: those events are "
            "quarantined and not acted on (`detail`); the others were handled (see `results`)",
        },
        413: {"model": Problem, "description": "Body or batch too large"},
    },
)
async def post_events(request: Request, who: Ingester, services: Svc) -> JSONResponse:
    """Ingest one event (an object) or a batch (an array of up to 1000).

    Idempotent on the event id: sending an event again answers `duplicate` and changes nothing;
    a different event under a known id answers `conflict` (409) and is never acted on.
    Refused events are quarantined with their reason and never stop the others.

    CloudEvents 1.0 are taken too, in the three HTTP modes: structured
    (`Content-Type: application/cloudevents+json`), batch (`application/cloudevents-batch+json`)
    and binary (`ce-*` headers); `source` + `id` are the idempotency key, `time` is required, the
    customer is the `customerid` extension (docs/API.md)."""
    body = await request.body()
    if cloudevents_mode(request.headers) is not None:
        status, answer = await run_in_threadpool(
            cloudevents.ingest_cloudevents, services, dict(request.headers), body
        )
        return JSONResponse(answer, status)
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
    folded = [_fold(r) for r in raws]
    appender = services.appender
    if appender is None:
        status, result = await run_in_threadpool(ingest, services, folded)
    else:  # no worker thread: the appender's thread does the work, the loop awaits it
        report = await asyncio.wrap_future(appender.submit(folded))
        status, result = answer_of(services, folded, report)
    return JSONResponse(result, status)
