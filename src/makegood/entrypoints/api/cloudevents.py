"""CloudEvents on `POST /v1/events`: the structured, batch and binary HTTP modes, decoded by
`adapters.cloudevent` into the event envelope and ingested like any batch; a malformed
CloudEvent is refused with its CloudEvents field and kept in the quarantine."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from makegood.adapters.cloudevent import decode
from makegood.domain.event import Quarantined
from makegood.entrypoints.api import events
from makegood.entrypoints.api.deps import Services
from makegood.service_layer.engine import CONFLICT

SOURCE = "api:cloudevents"


def ingest_cloudevents(
    services: Services, headers: Mapping[str, str], body: bytes
) -> tuple[int, dict[str, Any]]:
    """Answers as `ingest` does, each result at its CloudEvent's place in the request."""
    decoded = decode(headers, body)
    if len(decoded) > events.MAX_BATCH:
        reason = f"at most {events.MAX_BATCH} events per request, got {len(decoded)}"
        return 413, {"detail": [{"index": None, "field": "body", "reason": reason}]}
    good = [(i, d.raw) for i, d in enumerate(decoded) if d.raw is not None]
    refused = [(i, d.rejection, d.text) for i, d in enumerate(decoded) if d.rejection is not None]
    if refused:
        app = services.app
        with app.store.session() as session:
            session.add_quarantined(
                [
                    Quarantined(SOURCE, None, text, why.field, why.reason, why.event_id)
                    for _, why, text in refused
                ],
                app.clock.now(),
            )
        services.telemetry.events(0, 0, len(refused))
    status = 200
    result: dict[str, Any] = {"accepted": 0, "duplicates": 0, "conflicts": 0, "results": []}
    if good:
        status, result = events.ingest(services, [raw for _, raw in good], source=SOURCE)
    done: list[dict[str, Any]] = result["results"]
    results = [{**r, "index": good[r["index"]][0]} for r in done]
    for index, why, _ in refused:
        results.append(
            {
                "index": index,
                "id": why.event_id,
                "status": "rejected",
                "field": why.field,
                "reason": why.reason,
            }
        )
    results.sort(key=lambda r: r["index"])
    rejected = [r for r in results if r["status"] == "rejected"]
    answer = {**result, "rejected": len(rejected), "results": results}
    if rejected:
        answer["detail"] = [
            {"index": r["index"], "field": r["field"], "reason": r["reason"], "event_id": r["id"]}
            for r in rejected
        ]
        return 422, answer
    conflicts = [r for r in results if r["status"] == CONFLICT]
    if conflicts:
        answer["detail"] = [
            {"index": r["index"], "field": "id", "reason": r["reason"], "event_id": r["id"]}
            for r in conflicts
        ]
    return status, answer
