"""Memory bounded by size never changes a result (issue 12): an engine whose budget of kept
state is so small that every flush evicts (all of it, or all but a few customers) leaves the
same tables as an engine that keeps everything, on the demo simulator's mix (profiles,
incidents, messages, grants, surveys) and on the random streams of the batch-size property.

Tables are compared row by row as in test_batch_size_property.py: only the surrogate ids of
`timeline` and `quarantine` and the partitions' versions (they count transactions) are left
out."""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from tests.contract.test_batch_size_property import stored_tables

from makegood.adapters.policy_file import load_policy
from makegood.adapters.sql.store import SqlStore
from makegood.entrypoints.demo.simulator import SimulationSettings, Simulator
from makegood.service_layer.engine import Engine
from makegood.service_layer.resident import Resident
from makegood.testing import FrozenClock, counting_codes

T = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
UNBOUNDED = 1e9  # MiB: nothing is ever evicted
NOTHING = 1e-9  # MiB: every flush evicts every customer
FEW = 0.05  # MiB: a few customers' worth, so a flush evicts some and keeps some
SOME = 0.1  # MiB: closed subjects shed at most flushes, a customer evicted at some


@cache
def migrated() -> Path:
    path = Path(tempfile.mkdtemp(prefix="makegood-evict-")) / "template.db"
    store = SqlStore(f"sqlite:///{path}")
    store.migrate()
    store.dispose()
    return path


@cache
def demo_events() -> list[dict[str, Any]]:
    sim = Simulator(SimulationSettings(orders=300, customers=40))
    return sim.advance(sim.horizon)


def tables_after(
    events: list[dict[str, Any]], folder: Path, budget_mib: float, behind: bool, batch: int = 25
) -> tuple[dict[str, Any], list[int]]:
    """The tables after the events, and the customers kept after each flush."""
    path = folder / f"evict-{budget_mib}-{behind}.db"
    shutil.copy(migrated(), path)
    store = SqlStore(f"sqlite:///{path}")
    kept: list[int] = []
    settle = Resident.settle

    def counting(resident: Resident, *args: Any) -> None:
        settle(resident, *args)
        kept.append(len(resident.customers))

    try:
        engine = Engine(
            store,
            load_policy(),
            FrozenClock(T),
            event_time=True,
            new_code=counting_codes(),
            batch_size=batch,
            resident_mib=budget_mib,
            flush_events=3 * batch,  # written behind: several batches per flush
            flush_seconds=1e9,
        )
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Resident, "settle", counting)
            for start in range(0, len(events), batch):
                engine.ingest(events[start : start + batch], source="stream", flush=not behind)
            engine.flush()
        return stored_tables(store), kept
    finally:
        store.dispose()


@pytest.mark.parametrize("behind", [False, True], ids=["flush per batch", "written behind"])
def test_a_budget_that_evicts_on_every_flush_changes_no_table(behind: bool) -> None:
    events = demo_events()
    with tempfile.TemporaryDirectory() as folder:
        unbounded, kept_all = tables_after(events, Path(folder), UNBOUNDED, behind)
        assert unbounded["failures"] and unbounded["outbox"] and unbounded["compensations"]
        assert max(kept_all) >= 30  # the unbounded engine kept (nearly) every customer
        nothing, kept_none = tables_after(events, Path(folder), NOTHING, behind)
        assert set(kept_none) == {0}  # every flush evicted everyone
        assert nothing == unbounded
        few, kept_few = tables_after(events, Path(folder), FEW, behind)
        median = sorted(kept_few)[len(kept_few) // 2]
        assert 0 < median <= max(kept_all) // 4  # some kept, the rest evicted
        assert few == unbounded
        some, kept_some = tables_after(events, Path(folder), SOME, behind)
        assert sorted(kept_some)[len(kept_some) // 2] > median
        assert some == unbounded
