"""Group commit (`serve`'s appender): requests appended together are answered exactly as if each
had been appended alone, one after another in the order they arrived; a failed group is
appended request by request; a request whose sender left is not appended; and the turns at the
one writer let appends go first without ever starving the engine."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from makegood.bootstrap import App, bootstrap
from makegood.config import Settings
from makegood.service_layer.appender import GroupAppend, WriteTurns
from makegood.service_layer.engine import IngestReport
from makegood.testing import FrozenClock

from .server import make_server, now_iso

NOW = "2026-03-02T12:00:00+00:00"


def placed(event_id: str, customer: str = "c-1", value: str = "20.00") -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "order.placed",
        "occurred_at": NOW,
        "customer_id": customer,
        "subject_id": f"o-{event_id}",
        "attributes": {"value": value},
    }


# requests as they arrive: ids shared across requests, a conflict, a refused event
REQUESTS: list[list[dict[str, Any]]] = [
    [placed("a"), placed("x")],
    [placed("b"), placed("x"), {"id": "bad", "type": "order.placed"}],
    [placed("x", value="99.00"), placed("c"), placed("c")],
    [placed("a"), placed("d", customer="c-2")],
]


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Any]:
    made: list[App] = []

    def make(name: str) -> App:
        app = bootstrap(
            Settings(database_url=f"sqlite:///{tmp_path / name}"),
            clock=FrozenClock(),
            event_time=False,
        )
        app.engine.acts_on_append = False  # as in `serve`: a loop acts on the log
        made.append(app)
        return app

    yield make
    for app in made:
        app.store.dispose()


def answers(reports: Sequence[IngestReport]) -> list[tuple[Any, ...]]:
    return [
        (
            r.outcomes,
            r.accepted,
            r.duplicates,
            r.conflicts,
            [(i, why.field, why.reason) for i, why in r.rejected],
        )
        for r in reports
    ]


def stored(app: App) -> list[tuple[Any, ...]]:
    with app.store.engine.connect() as connection:
        events = connection.exec_driver_sql("SELECT seq, id FROM events ORDER BY seq").all()
        kept = connection.exec_driver_sql(
            "SELECT source, event_id, field, reason FROM quarantine ORDER BY id"
        ).all()
    return [tuple(row) for row in events] + [tuple(row) for row in kept]


def run_appender(appender: GroupAppend) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(target=appender.run, args=(stop,), daemon=True)
    thread.start()
    return stop, thread


def test_a_group_answers_each_request_as_if_appended_alone_in_turn(make_app: Any) -> None:
    alone = make_app("alone.db")
    expected = [alone.engine.ingest(raws) for raws in REQUESTS]
    grouped = make_app("grouped.db")
    appender = GroupAppend(grouped.engine)
    futures = [appender.submit(raws) for raws in REQUESTS]  # all waiting: one group
    stop, thread = run_appender(appender)
    reports = [future.result(timeout=30) for future in futures]
    stop.set()
    thread.join(timeout=30)
    assert appender.groups == 1
    assert answers(reports) == answers(expected)
    assert reports[1].outcomes == ["accepted", "duplicate", "rejected"]
    assert reports[2].outcomes == ["conflict", "accepted", "duplicate"]
    assert stored(grouped) == stored(alone)  # the same log, places and quarantine


class FailsOnGroups:
    """An engine that cannot append more than one request at a time (as if a group hit an
    error no single request does)."""

    def __init__(self, app: App, largest: int) -> None:
        self.app, self.largest, self.calls = app, largest, 0
        self.batch_size = app.engine.batch_size

    def ingest(self, raws: Sequence[object], source: str = "api") -> IngestReport:
        self.calls += 1
        if len(raws) > self.largest:
            raise RuntimeError("this group cannot be appended")
        return self.app.engine.ingest(raws, source=source)


def test_a_failed_group_is_appended_request_by_request(make_app: Any) -> None:
    alone = make_app("alone.db")
    expected = [alone.engine.ingest(raws) for raws in REQUESTS]
    app = make_app("grouped.db")
    engine = FailsOnGroups(app, largest=3)
    appender = GroupAppend(engine)  # type: ignore[arg-type]
    futures = [appender.submit(raws) for raws in REQUESTS]
    futures.append(appender.submit([placed(f"big-{n}") for n in range(4)]))  # fails alone too
    stop, thread = run_appender(appender)
    try:
        reports = [future.result(timeout=30) for future in futures[:-1]]
        with pytest.raises(RuntimeError, match="cannot be appended"):
            futures[-1].result(timeout=30)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert answers(reports) == answers(expected)
    assert stored(app) == stored(alone)


def test_a_request_whose_sender_left_is_not_appended(make_app: Any) -> None:
    app = make_app("grouped.db")
    appender = GroupAppend(app.engine)
    left = appender.submit([placed("gone")])
    kept = appender.submit([placed("kept")])
    assert left.cancel()
    stop, thread = run_appender(appender)
    assert kept.result(timeout=30).outcomes == ["accepted"]
    stop.set()
    thread.join(timeout=30)
    assert [row[1] for row in stored(app)] == ["kept"]


def test_appends_take_the_writer_first_and_the_engine_is_never_starved() -> None:
    always_waiting = WriteTurns(lambda: True, patience=0.05)
    started = time.monotonic()
    with always_waiting.patient():  # requests always queued: the engine still has its turn
        pass
    assert time.monotonic() - started < 5

    turns = WriteTurns(lambda: False, patience=5)
    order: list[str] = []
    holding, engine_waits = threading.Event(), threading.Event()

    def engine_again() -> None:
        engine_waits.set()
        with turns.patient():
            order.append("engine")

    def appender() -> None:
        turns.urgent_here()
        with turns.turn():
            order.append("append")

    with turns.patient():  # the engine writes; an append and the engine's next write wait
        holding.set()
        first = threading.Thread(target=appender)
        first.start()
        while not turns._urgent:  # the append is waiting for its turn
            time.sleep(0.001)
        second = threading.Thread(target=engine_again)
        second.start()
        engine_waits.wait(5)
        time.sleep(0.05)
    first.join(5)
    second.join(5)
    assert order == ["append", "engine"]
    with turns.patient(), turns.patient():  # reentrant for the thread that holds it
        pass


@pytest.mark.slow
def test_concurrent_requests_of_one_event_accept_it_once(tmp_path: Path) -> None:
    server = make_server(tmp_path).start()
    event = {
        "id": "same-1",
        "type": "order.placed",
        "occurred_at": now_iso(),
        "customer_id": "c-1",
        "subject_id": "o-1",
    }
    answered: list[dict[str, Any]] = []
    go = threading.Barrier(16)

    def post() -> None:
        with server.client("ingest") as client:
            go.wait()
            response = client.post("/v1/events", json=[event])
            assert response.status_code == 200
            answered.append(response.json())

    try:
        threads = [threading.Thread(target=post) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        server.stop()
    assert len(answered) == 16
    assert sorted(a["results"][0]["status"] for a in answered) == ["accepted"] + ["duplicate"] * 15
    with sqlite3.connect(tmp_path / "makegood.db") as connection:
        assert connection.execute("SELECT count(*) FROM events").fetchone() == (1,)
