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
    T,
    migrated,
    stored_tables,
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
            # the next process's codes go on from those written (what the dead one drew and
            # never wrote is drawn again, as a random code would be drawn afresh)
            with store.engine.connect() as c:
                written = c.scalar(
                    sa.select(sa.func.count()).where(t.compensations.c.code.is_not(None))
                )
            second = engine_on(store, counting_codes(start=1 + (written or 0)), flush_events)
            for start in range(cut, len(events), 2):
                second.ingest(events[start : start + 2], source="stream", flush=False)
            second.drain()
        return stored_tables(store)
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


# found by the property above: a refund decided after the last flush by a process that died,
# decided again by the next one (its voucher code drawn again, as a random code would be)
DIED_AFTER_A_REFUND = [
    {
        "id": "e0",
        "type": "survey.answered",
        "occurred_at": "2026-01-05T12:40:00+00:00",
        "customer_id": "c2",
        "subject_id": "c2-o4",
        "attributes": {"score": 4},
    },
    {
        "id": "e1",
        "type": "order.delivered",
        "occurred_at": "2026-04-15T12:40:00+00:00",
        "customer_id": "c1",
        "subject_id": "c1-o3",
        "attributes": {},
    },
    {
        "id": "e2",
        "type": "order.placed",
        "occurred_at": "2026-04-15T13:20:00+00:00",
        "customer_id": "c1",
        "subject_id": "c1-o4",
        "attributes": {"promised_at": "2026-04-15T13:50:00+00:00", "value": "20"},
    },
    {
        "id": "e3",
        "type": "order.delivered",
        "occurred_at": "2026-07-24T13:20:00+00:00",
        "customer_id": "c1",
        "subject_id": "c1-o3",
        "attributes": {},
    },
    {
        "id": "e4",
        "type": "order.item_issue",
        "occurred_at": "2026-07-24T13:21:00+00:00",
        "customer_id": "c3",
        "subject_id": "c3-o3",
        "attributes": {"issue": "missing", "item_value": "12.50"},
    },
    {
        "id": "e5",
        "type": "order.delivered",
        "occurred_at": "2026-07-24T13:22:00+00:00",
        "customer_id": "c1",
        "subject_id": "c1-o2",
        "attributes": {},
    },
    {
        "id": "e6",
        "type": "order.placed",
        "occurred_at": "2026-07-24T13:22:00+00:00",
        "customer_id": "c2",
        "subject_id": "c2-o1",
        "attributes": {"promised_at": "2026-07-24T13:52:00+00:00", "value": "20"},
    },
    {
        "id": "e7",
        "type": "order.delivered",
        "occurred_at": "2026-07-24T14:52:00+00:00",
        "customer_id": "c1",
        "subject_id": "c1-o4",
        "attributes": {},
    },
    {
        "id": "e8",
        "type": "order.delivered",
        "occurred_at": "2026-07-24T16:22:00+00:00",
        "customer_id": "c1",
        "subject_id": "c1-o3",
        "attributes": {},
    },
    {
        "id": "e9",
        "type": "survey.answered",
        "occurred_at": "2026-07-24T16:23:00+00:00",
        "customer_id": "c3",
        "subject_id": "c3-o3",
        "attributes": {"score": 5},
    },
    {
        "id": "e2",
        "type": "order.placed",
        "occurred_at": "2026-04-15T13:20:00+00:00",
        "customer_id": "c1",
        "subject_id": "c1-o4",
        "attributes": {"promised_at": "2026-04-15T13:50:00+00:00", "value": "20"},
    },
    {
        "id": "e11",
        "type": "order.item_issue",
        "occurred_at": "2026-11-01T17:03:00+00:00",
        "customer_id": "c1",
        "subject_id": "c1-o2",
        "attributes": {"issue": "wrong", "item_value": "12.50"},
    },
    {
        "id": "e5",
        "type": "order.delivered",
        "occurred_at": "2026-07-24T13:22:00+00:00",
        "customer_id": "c1",
        "subject_id": "c1-o2",
        "attributes": {},
    },
    {
        "id": "e13",
        "type": "order.cancelled",
        "occurred_at": "2027-05-20T17:03:00+00:00",
        "customer_id": "c1",
        "subject_id": "c1-o3",
        "attributes": {"by": "business"},
    },
    {
        "id": "e14",
        "type": "survey.answered",
        "occurred_at": "2027-05-20T17:43:00+00:00",
        "customer_id": "c3",
        "subject_id": "c3-o4",
        "attributes": {"score": 2},
    },
    {
        "id": "e15",
        "type": "order.placed",
        "occurred_at": "2027-05-20T19:13:00+00:00",
        "customer_id": "c2",
        "subject_id": "c2-o4",
        "attributes": {"promised_at": "2027-05-20T19:43:00+00:00", "value": "20"},
    },
    {
        "id": "e16",
        "type": "order.placed",
        "occurred_at": "2027-05-21T19:13:00+00:00",
        "customer_id": "c1",
        "subject_id": "c1-o1",
        "attributes": {"promised_at": "2027-05-21T19:43:00+00:00", "value": "20"},
    },
    {
        "id": "e17",
        "type": "order.delivered",
        "occurred_at": "2027-05-21T19:14:00+00:00",
        "customer_id": "c3",
        "subject_id": "c3-o2",
        "attributes": {},
    },
    {
        "id": "e18",
        "type": "order.delivered",
        "occurred_at": "2027-06-30T19:14:00+00:00",
        "customer_id": "c2",
        "subject_id": "c2-o1",
        "attributes": {},
    },
]


def test_a_refund_decided_by_a_process_that_died_is_decided_again_once() -> None:
    same_written_behind(DIED_AFTER_A_REFUND, 13)


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
