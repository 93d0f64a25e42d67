"""A transaction PostgreSQL picks as a deadlock victim is `Contended` (rolled back whole, to be
retried), never a raw driver error that would answer 500 (found in review: two batches taking
customer locks in different orders, e.g. during an incident fan-out)."""

from __future__ import annotations

import threading

import pytest

from makegood.domain.errors import Contended

from .conftest import Database

pytestmark = pytest.mark.postgres


def test_the_deadlock_victim_is_contended_and_the_other_commits(
    postgres_database: Database,
) -> None:
    store = postgres_database.store()
    held = [threading.Event(), threading.Event()]
    outcome: dict[int, str] = {}

    def worker(me: int) -> None:
        first, second = (1, 2) if me == 0 else (2, 1)
        try:
            with store.session() as session:
                session.c.exec_driver_sql(f"SELECT pg_advisory_xact_lock({first})")
                held[me].set()
                held[1 - me].wait(5)
                session.c.exec_driver_sql(f"SELECT pg_advisory_xact_lock({second})")
            outcome[me] = "committed"
        except Contended:
            outcome[me] = "contended"

    threads = [threading.Thread(target=worker, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcome.values()) == ["committed", "contended"]
