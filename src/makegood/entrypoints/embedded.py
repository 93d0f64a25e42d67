"""makegood inside a Python program: the engine the CLI and the server use, with no server.

    with Makegood.open("shop.db") as mg:
        mg.ingest(events)
        for case in mg.cases(needs_person=True): ...

The same objects as the CLI (`bootstrap`): a SQL store (a SQLite file or any database URL), the
policy, the engine and the outbox dispatcher; reads answer the dicts `makegood ... --json`
prints.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any

from makegood.adapters.sql import queries
from makegood.bootstrap import App, bootstrap
from makegood.config import Settings
from makegood.service_layer.dispatch import DispatchStats
from makegood.service_layer.engine import IngestReport
from makegood.service_layer.ports import Channel, Clock


class Makegood:
    """One engine on one store. Not thread-safe: one instance per thread (or process)."""

    def __init__(self, app: App) -> None:
        self.app = app

    @classmethod
    def open(
        cls,
        database: str | Path = "makegood.db",
        *,
        policy: str | Path | None = None,
        event_time: bool = True,
        clock: Clock | None = None,
        channels: Mapping[str, Channel] | None = None,
    ) -> Makegood:
        """A store at `database` (a file path or a SQLAlchemy URL), migrated, with `policy`
        (default: the shipped food-delivery policy). In event time (the default) timers follow
        the events' own time; with `event_time=False` they follow `clock` (default: the real
        one). Messages go to `channels` (default: as configured by MAKEGOOD_* variables, else
        the console)."""
        url = str(database) if "://" in str(database) else f"sqlite:///{Path(database)}"
        settings = replace(Settings.from_env(os.environ), database_url=url)
        if policy is not None:
            settings = replace(settings, policy=Path(policy))
        return cls(bootstrap(settings, clock=clock, event_time=event_time, channels=channels))

    def ingest(self, events: Iterable[Mapping[str, Any]], source: str = "python") -> IngestReport:
        """Validate, store and act on `events` (raw mappings, as JSON would give them); bad
        ones are rejected with the field and kept in the quarantine."""
        batch = list(events)
        return self.app.engine.ingest(batch, source=source)

    def tick(self) -> IngestReport:
        """Fire the timers that are due by the clock (wall time only)."""
        return self.app.engine.tick()

    def dispatch(self, limit: int = 500) -> DispatchStats:
        """Send what is due in the outbox once."""
        return self.app.dispatcher.dispatch_once(limit)

    def cases(
        self, state: str | None = None, needs_person: bool | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Cases, most recently changed first."""
        with self.app.store.engine.connect() as c:
            return queries.list_cases(c, state, limit, needs_person)

    def case(self, case_id: str) -> dict[str, Any]:
        """One case with its failures, compensations, messages and timeline (NotFound if
        there is none)."""
        with self.app.store.engine.connect() as c:
            return queries.case_detail(c, case_id)

    def summary(self) -> dict[str, Any]:
        """What was detected, done, spent and learned."""
        with self.app.store.engine.connect() as c:
            return queries.summary(c, self.app.policy.policy.budgets.global_per_day)

    def close(self) -> None:
        self.app.store.dispose()

    def __enter__(self) -> Makegood:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
