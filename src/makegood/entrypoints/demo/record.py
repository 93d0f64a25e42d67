"""Helpers shared by the simulator's parts: simulated time, money strings, event dicts.

Simulated time is kept as whole seconds after `SimulationSettings.start`; it becomes an ISO
string only when an event is written, so generation stays cheap.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from random import Random
from typing import Any

MINUTE = 60
HOUR = 3600
DAY = 86_400
CURRENCY = "EUR"

Event = dict[str, Any]
Timed = tuple[int, Event]  # (second after start, event)


class Clock:
    """ISO strings for whole seconds after `start` (aware UTC, whole seconds), one strftime a
    minute: formatting is most of the cost of writing ~100k events."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self._base = start.replace(second=0)
        self._shift = start.second
        self._minutes: dict[int, str] = {}

    def iso(self, second: int) -> str:
        minute, sec = divmod(second + self._shift, 60)
        prefix = self._minutes.get(minute)
        if prefix is None:
            prefix = (self._base + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:")
            self._minutes[minute] = prefix
        return f"{prefix}{sec:02d}Z"


def between(rng: Random, low: int, high: int) -> int:
    """Like `rng.randint(low, high)`, at a third of the cost."""
    return low + int(rng.random() * (high - low + 1))


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def basket(rng: Random) -> int:
    """An order value in cents: 12 to 80 EUR, most around 25 to 35."""
    euros = min(80.0, max(12.0, rng.lognormvariate(math.log(28.0), 0.42)))
    return round(euros * 100)


def event(
    ident: str,
    type_: str,
    at: str,
    customer_id: str,
    subject_id: str | None,
    attributes: dict[str, Any],
) -> Event:
    return {
        "id": ident,
        "type": type_,
        "occurred_at": at,
        "customer_id": customer_id,
        "subject_id": subject_id,
        "attributes": attributes,
    }
