"""Helpers for tests: a start time, a raw-event builder, minutes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def ev(
    id: str,
    type: str,
    at: datetime,
    customer: str = "c1",
    subject: str | None = None,
    **attributes: Any,
) -> dict[str, Any]:
    """A raw event as a source would send it."""
    event: dict[str, Any] = {
        "id": id,
        "type": type,
        "occurred_at": at.isoformat(),
        "customer_id": customer,
        "attributes": _jsonable(attributes),
    }
    if subject is not None:
        event["subject_id"] = subject
    return event


def _jsonable(attributes: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in attributes.items()}


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
