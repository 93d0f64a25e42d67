"""PostgreSQL under concurrent workers: claims never overlap (``FOR UPDATE SKIP LOCKED``) and the
global budget is never overspent. Each thread has its own `SqlStore` (own connections)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from makegood.domain.errors import BudgetConflict
from makegood.domain.world import Changes, Snapshot

from .conftest import Database
from .samples import BUDGETS, DAY, T, customer, message, spent, write

pytestmark = pytest.mark.postgres


def in_threads(*work: Callable[[], Any]) -> list[Any]:
    """Run each callable in its own thread, released together; answer results or exceptions."""
    start = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)

    def run(index: int) -> None:
        start.wait(timeout=10)
        try:
            results[index] = work[index]()
        except Exception as error:  # handed to the test, which decides
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), "a worker hung"
    return results


def test_concurrent_claims_never_hand_out_a_message_twice(postgres_database: Database) -> None:
    write(
        postgres_database.store(),
        outbox=[message(f"m{n:03d}", created_at=T - timedelta(seconds=n)) for n in range(200)],
    )
    workers = [postgres_database.store(migrate=False) for _ in range(2)]

    def drain(store: Any) -> list[str]:
        got: list[str] = []
        while claimed := store.claim(T, T + timedelta(minutes=5), 3):
            got.extend(m.id for m in claimed)
        return got

    results = in_threads(*(lambda s=s: drain(s) for s in workers))
    for result in results:
        assert not isinstance(result, Exception), result
    counts = Counter(i for result in results for i in result)
    assert [i for i, n in counts.items() if n > 1] == []
    assert len(counts) == 200


def _spend(amount: str, day: date = DAY) -> tuple[Changes, Snapshot]:
    return Changes(global_spend={day: Decimal(amount)}), Snapshot()


def test_a_session_waiting_on_the_budget_row_sees_the_committed_spend(
    postgres_database: Database,
) -> None:
    first, second, watcher = (postgres_database.store() for _ in range(3))
    write(first, spend={DAY: Decimal(1)})  # the row exists: the race is on the UPDATE
    first_saved = threading.Event()
    second_pid: list[int] = []

    def spend_second() -> Exception | None:
        try:
            with second.session() as s:
                second_pid.append(s.c.exec_driver_sql("select pg_backend_pid()").scalar_one())
                assert first_saved.wait(timeout=10)
                s.save(*_spend("5"), BUDGETS)  # blocks on the first session's row
        except BudgetConflict as conflict:
            return conflict
        return None

    outcome: list[Exception | None] = []
    thread = threading.Thread(target=lambda: outcome.append(spend_second()))
    thread.start()
    try:
        with first.session() as s:
            s.save(*_spend("5"), BUDGETS)
            first_saved.set()
            _wait_until_blocked(watcher, second_pid)
    finally:
        first_saved.set()
        thread.join(timeout=30)
    assert isinstance(outcome[0], BudgetConflict)
    assert spent(first, DAY) == {DAY: Decimal(6)}


def _wait_until_blocked(watcher: Any, pids: list[int]) -> None:
    """Poll the server (not a timer) until the other session waits for a lock of ours."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if pids:
            with watcher.engine.connect() as c:
                blocked = c.exec_driver_sql(f"select pg_blocking_pids({int(pids[0])})").scalar()
            if blocked:
                return
        time.sleep(0.01)
    raise AssertionError("the second session never waited for the first one's budget row")


def test_racing_sessions_never_overspend_the_day(postgres_database: Database) -> None:
    stores = [postgres_database.store() for _ in range(2)]

    def spend(store: Any, day: date) -> None:
        with store.session() as s:
            s.save(*_spend("6", day), BUDGETS)

    for round_ in range(8):  # a fresh day each round; on odd rounds its row exists already
        day = DAY + timedelta(days=round_)
        if round_ % 2:
            write(stores[0], spend={day: Decimal(0)})
        results = in_threads(*(lambda s=s, day=day: spend(s, day) for s in stores))
        assert [r for r in results if not isinstance(r, BudgetConflict)] == [None]
        assert spent(stores[0], day) == {day: Decimal(6)}


def test_two_transactions_on_one_customer_take_turns(postgres_database: Database) -> None:
    """An engine batch and a person's action on the same customer never interleave: `load`
    locks the customers it loads, so the second waits until the first commits and then sees
    what it wrote."""
    first, second, watcher = (postgres_database.store() for _ in range(3))
    write(first, customer("c1"))
    loaded = threading.Event()
    second_pid: list[int] = []
    seen: list[str | None] = []

    def second_loads() -> None:
        with second.session() as s:
            second_pid.append(s.c.exec_driver_sql("select pg_backend_pid()").scalar_one())
            assert loaded.wait(timeout=10)
            snap = s.load({"c1"}, (), (), T - timedelta(days=30), ())  # waits for the first
            seen.append(snap.customers["c1"].tier)

    thread = threading.Thread(target=second_loads)
    thread.start()
    try:
        with first.session() as s:
            snap = s.load({"c1"}, (), (), T - timedelta(days=30), ())
            loaded.set()
            _wait_until_blocked(watcher, second_pid)
            snap.customers["c1"].tier = "gold"
            s.save(Changes(customers={"c1"}), snap, BUDGETS)
    finally:
        loaded.set()
        thread.join(timeout=30)
    assert seen == ["gold"]
