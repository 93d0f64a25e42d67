"""Exports read the same on SQLite and PostgreSQL (where rows come through a server-side
cursor), in time order, with the envelope `makegood ingest` takes back."""

from __future__ import annotations

from datetime import timedelta
from types import ModuleType

import pytest

from makegood.adapters.sql import export
from makegood.domain.event import parse_event
from makegood.service_layer.engine import Engine
from makegood.testing import FrozenClock, counting_codes

from .conftest import Database


def test_events_come_back_in_time_order_filtered_and_chunked(
    database: Database, shared: ModuleType, policy: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    ev, t0 = shared.ev, shared.T0
    store = database.store()
    engine = Engine(store, policy, FrozenClock(t0), event_time=True, new_code=counting_codes())
    raw = [
        ev(f"e{i}", "purchase" if i % 3 else "order.placed", t0 + timedelta(minutes=10 - i),
           f"c{i % 4}", f"o{i}" if i % 2 or i % 3 == 0 else None, value=i)
        for i in range(10)
    ]  # fmt: skip
    assert engine.ingest(raw).accepted == 10
    monkeypatch.setattr(export, "YIELD_PER", 3)  # more than one chunk
    with store.engine.connect() as c:
        every = list(export.export_rows(c, "events"))
        later = list(export.export_rows(c, "events", since=t0 + timedelta(minutes=5),
                                        types={"purchase"}))  # fmt: skip
    assert [e["id"] for e in every] == [f"e{i}" for i in reversed(range(10))]
    assert [e["id"] for e in later] == ["e5", "e4", "e2", "e1"]
    for item, original in zip(every, reversed(raw), strict=True):
        again = parse_event(item | {"occurred_at": item["occurred_at"].isoformat()})
        assert again == parse_event(original)
