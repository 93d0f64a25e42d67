"""The window the report's comparisons look at (week-over-week change, hot spots), and the one
before it, of the same length.

A reader may choose it (`--since`, `--until`). Otherwise it is the latest window of up to 7 days
that holds enough failures, it and the one before it: at least half of what a typical window of
that length holds over the whole history. A data set whose last days are thin (an export cut
mid-week, a trickle of late records) is then compared where it has data, not on its empty tail;
the figures say which window was used and why.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median
from typing import Any

WEEK = timedelta(days=7)
STEP = timedelta(days=1)


@dataclass(frozen=True)
class Window:
    """Now is (`since`, `until`]; before is (`since` - length, `since`]."""

    since: datetime
    until: datetime
    chosen_by: str  # "reader" (--since/--until) or "data"
    reason: str

    @property
    def length(self) -> timedelta:
        return self.until - self.since

    @property
    def before_since(self) -> datetime:
        return self.since - self.length

    def slot(self, at: datetime) -> str | None:
        """ "now", "before" or None for a time outside both windows."""
        if self.since < at <= self.until:
            return "now"
        if self.before_since < at <= self.since:
            return "before"
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "until": self.until,
            "before_since": self.before_since,
            "length_s": self.length.total_seconds(),
            "chosen_by": self.chosen_by,
            "reason": self.reason,
        }


def given_window(
    since: datetime | None, until: datetime | None, last: datetime | None
) -> Window | None:
    """The window a reader asked for: both ends, or one end and 7 days (to the last failure
    when only `since` is given). None when neither is given or there is no data to end on."""
    if since is None and until is None:
        return None
    end = until or last
    if end is None:
        return None
    start = since if since is not None else end - WEEK
    if start >= end:
        raise ValueError(
            f"--since ({start:%Y-%m-%d %H:%M}) must be before --until ({end:%Y-%m-%d %H:%M})"
        )
    return Window(start, end, "reader", "as asked")


def choose_window(times: Sequence[datetime]) -> Window | None:
    """The latest window with enough failures (see the module's docstring); `times` sorted."""
    if len(times) < 2:
        return None
    first, last = times[0], times[-1]
    length = min(WEEK, (last - first) / 2)
    if length <= timedelta(0):
        return None

    def count(since: datetime, until: datetime) -> int:
        return bisect_right(times, until) - bisect_right(times, since)

    typical = median(count(end - length, end) for end in _steps(last, first + length, length))
    enough = max(1, typical / 2)
    step = min(STEP, length / 7)

    def full(end: datetime) -> bool:
        return (
            count(end - length, end) >= enough and count(end - 2 * length, end - length) >= enough
        )

    for candidate in _steps(last, first + 2 * length, step):
        if full(candidate):
            # end where the data does: on the window's last failure, unless that is too early
            snapped = times[bisect_right(times, candidate) - 1]
            end = snapped if snapped - 2 * length >= first and full(snapped) else candidate
            if end == last:
                reason = "the latest window with enough data"
            else:
                reason = (
                    f"the last {lasting(length.total_seconds())} to {last:%Y-%m-%d %H:%M} hold "
                    f"{count(last - length, last)} failures, fewer than half of a typical "
                    f"window ({typical:g}): the latest window with enough data"
                )
            return Window(end - length, end, "data", reason)
    return Window(last - length, last, "data", "the latest window (none has enough data)")


def _steps(start: datetime, stop: datetime, step: timedelta) -> list[datetime]:
    """`start`, `start` - step, … down to `stop` (inclusive when it falls on a step)."""
    out = []
    at = start
    while at >= stop:
        out.append(at)
        at -= step
    return out or [start]


def lasting(seconds: float) -> str:
    """A window's length for people: "7 days", "1.5 days", "3 hours"."""
    days = seconds / 86400
    return f"{days:.3g} days" if days >= 1 else f"{seconds / 3600:.3g} hours"


__all__ = ["Window", "choose_window", "given_window", "lasting"]
