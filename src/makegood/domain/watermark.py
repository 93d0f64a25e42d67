"""Event time per partition (issue 12): the log's watermark, and what a partition follows.

The watermark after an event of the log is the newest `occurred_at` of the log up to it (every
partition's events, in the log's order) less the allowed lateness; it never goes back. Each
partition keeps the watermark at the place in the log it has followed up to: its time. A
partition acted on alone (by a worker owning it) follows the whole log, its own events and
the others', so it passes through the same watermarks, at the same places, as one engine
acting on the whole log: its timers fire at the same moments, and a partition with nothing new
(idle) follows the others' events. Pure: the times are handed in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta


def follow(
    base: datetime | None, times: Iterable[datetime], lateness: timedelta
) -> list[datetime | None]:
    """The watermark after each of these events' times (`occurred_at`, in the log's order),
    from `base` (the watermark before the first; None: nothing seen yet)."""
    mark = base
    found: list[datetime | None] = []
    for occurred in times:
        candidate = occurred - lateness
        if mark is None or candidate > mark:
            mark = candidate
        found.append(mark)
    return found
