"""Changes written behind (issue 12) never change a result: the random streams of
`test_batch_size_property`, fed in small batches that the engine decides in memory and writes
together (one flush for many batches, or a flush every few events), and with a process that
dies with batches decided and not written, leave the same tables as one batch per event
written at once. The one that died wrote nothing of what it decided after its last flush: the
next engine decides it again from the place committed in the log."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from tests.contract.test_batch_size_property import (
    FOUND,
    SURROGATE,
    T,
    migrated,
    streams,
    tables_after,
)

from makegood.adapters.policy_file import load_policy
from makegood.adapters.sql import schema as t
from makegood.adapters.sql.store import SqlStore
from makegood.service_layer.engine import APPLIED, Engine
from makegood.testing import FrozenClock, counting_codes

NEVER = 1e9  # seconds: no flush by time


def engine_on(store: SqlStore, codes: Any, flush_events: int) -> Engine:
    return Engine(
        store,
        load_policy(),
        FrozenClock(T),
        event_time=True,
        new_code=codes,
        batch_size=2,
        flush_events=flush_events,
        flush_seconds=NEVER,
    )


def behind(
    events: list[dict[str, Any]], folder: Path, flush_events: int, crash_at: int | None
) -> dict[str, Any]:
    """Batches of 2 fed as a stream (`flush=False`); with `crash_at`, the first engine is
    abandoned with what it decided after its last flush unwritten, and a second one goes on."""
    path = folder / f"behind-{flush_events}-{crash_at}.db"
    shutil.copy(migrated(), path)
    store = SqlStore(f"sqlite:///{path}")
    codes = counting_codes()
    try:
        cut = len(events) if crash_at is None else crash_at
        first = engine_on(store, codes, flush_events)
        for start in range(0, cut, 2):
            first.ingest(events[start : min(start + 2, cut)], source="stream", flush=False)
        if crash_at is None:
            first.flush()
        else:  # the process dies here: nothing of `first` is written any more
            second = engine_on(store, codes, flush_events)
            for start in range(cut, len(events), 2):
                second.ingest(events[start : start + 2], source="stream", flush=False)
            second.drain()
        with store.engine.connect() as c:
            return {
                table.name: sorted(
                    tuple(
                        (column, repr(value))
                        for column, value in row._mapping.items()
                        if column not in SURROGATE.get(table.name, ())
                    )
                    for row in c.execute(sa.select(table))
                )
                for table in t.metadata.sorted_tables
            }
    finally:
        store.dispose()


def same_written_behind(events: list[dict[str, Any]], crash_at: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        one = tables_after(events, 1, Path(folder))
        assert behind(events, Path(folder), 10**9, None) == one  # one flush for the whole stream
        assert behind(events, Path(folder), 5, None) == one  # a flush every few batches
        assert behind(events, Path(folder), 10**9, crash_at) == one  # died before any flush
        assert behind(events, Path(folder), 5, crash_at) == one  # died between flushes


@pytest.mark.parametrize("name", sorted(FOUND))
def test_written_behind_never_changed_a_found_stream(name: str) -> None:
    same_written_behind(FOUND[name], len(FOUND[name]) // 2)


@settings(
    max_examples=10,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow],
)
@given(streams(), st.floats(0, 1))
def test_written_behind_never_changes_a_result(events: list[dict[str, Any]], crash: float) -> None:
    same_written_behind(events, round(crash * len(events)))


def test_nothing_is_written_before_the_flush() -> None:
    """Decided batches stay in memory until the flush: the store's place in the log and its
    tables do not move, and the flush writes them in one go."""
    events = FOUND[sorted(FOUND)[0]]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "kept.db"
        shutil.copy(migrated(), path)
        store = SqlStore(f"sqlite:///{path}")
        try:
            engine = engine_on(store, counting_codes(), 10**9)
            engine.ingest(events, source="stream", flush=False)
            with store.engine.connect() as c:
                assert c.scalar(
                    sa.select(t.engine_state.c.value).where(t.engine_state.c.name == APPLIED)
                ) in (None, "0")
                assert c.scalar(sa.select(sa.func.count()).select_from(t.subjects)) == 0
            report = engine.flush()
            assert report.accepted == 0  # the appends were answered by `ingest` already
            with store.engine.connect() as c:
                assert c.scalar(
                    sa.select(t.engine_state.c.value).where(t.engine_state.c.name == APPLIED)
                ) == str(c.scalar(sa.select(sa.func.max(t.events.c.seq))))
                assert c.scalar(sa.select(sa.func.count()).select_from(t.subjects)) > 0
        finally:
            store.dispose()
