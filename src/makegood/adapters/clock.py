"""The real clock. The domain never reads it; entrypoints hand it to the engine."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)
