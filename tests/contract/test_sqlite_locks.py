"""SQLite under a slow batch (issue 11, point 2): text analysis runs before the write
transaction opens, and readers (``/healthz``, the dashboard) never take or wait for the write
lock — only writers ``BEGIN IMMEDIATE``."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from makegood.adapters.policy_file import load_policy
from makegood.adapters.sql import schema as t
from makegood.service_layer.engine import Engine
from makegood.testing import FrozenClock, counting_codes

from .conftest import Database

T = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class _Analysis:
    def as_context(self) -> dict[str, Any]:
        return {"sentiment": 0.0}


class LockProbe:
    """An analyzer that checks, while it runs, whether another process could write."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.could_write: list[bool] = []

    def analyze_many(
        self, texts: Sequence[str], locales: Sequence[str | None] | None = None
    ) -> Sequence[Any]:
        probe = sqlite3.connect(self.path, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            self.could_write.append(True)
        except sqlite3.OperationalError:  # database is locked
            self.could_write.append(False)
        finally:
            probe.close()
        return [_Analysis() for _ in texts]


def test_text_is_analysed_before_the_write_transaction(sqlite_database: Database) -> None:
    store = sqlite_database.store()
    path = Path(sqlite_database.url.removeprefix("sqlite:///"))
    probe = LockProbe(path)
    engine = Engine(
        store,
        load_policy(),
        FrozenClock(T),
        event_time=False,
        analyzer=probe,
        new_code=counting_codes(),
    )
    report = engine.ingest(
        [
            {
                "id": "m1",
                "type": "message.received",
                "occurred_at": T.isoformat(),
                "customer_id": "c1",
                "attributes": {"text": "where is my order?"},
            }
        ]
    )
    assert report.accepted == 1
    assert probe.could_write == [True]


def test_a_reader_does_not_wait_for_a_writer(sqlite_database: Database) -> None:
    writer, reader = sqlite_database.store(), sqlite_database.store(migrate=False)
    holding, release = threading.Event(), threading.Event()

    def write() -> None:
        with writer.session() as s:
            s.set_value("busy", "yes")
            holding.set()
            release.wait(timeout=30)

    thread = threading.Thread(target=write)
    thread.start()
    try:
        assert holding.wait(timeout=10)
        started = time.monotonic()
        with reader.engine.connect() as c:  # as /healthz and the dashboard read
            assert c.execute(sa.select(sa.func.count()).select_from(t.events)).scalar() == 0
        assert time.monotonic() - started < 2
    finally:
        release.set()
        thread.join(timeout=30)
