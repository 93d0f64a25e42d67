"""Killing `makegood ingest` mid-file and running it again gives the uninterrupted result.

A realistic simulated day goes in twice: once in one go (A), once killed with SIGKILL part-way
and restarted (B). In event-time mode the watermark is stored with each batch, so B must end in
exactly A's state: nothing accepted is lost, nothing is sent or paid twice. Replaying the file
into a finished store must change nothing at all.
"""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from makegood.entrypoints.demo.simulator import SimulationSettings, Simulator

pytestmark = pytest.mark.slow

BATCH = 500
KILL_AFTER = 3000  # stored events; the file holds ~18k, so the kill lands early in the file

# What must be identical after an uninterrupted and an interrupted run. Wall-clock columns
# (received_at) and the random voucher codes are left out; everything else is decided by the file.
SNAPSHOT = {
    "events": "SELECT id FROM events ORDER BY id",
    "cases": "SELECT id, customer_id, subject_key, state, severity, category, opened_at, "
    "resolved_at FROM cases ORDER BY id",
    "failures": "SELECT id, key, severity, category, occurred_at, detected_at, lateness_s, "
    "resolved_at FROM failures ORDER BY id",
    "compensations": "SELECT key, amount, status, required_role FROM compensations ORDER BY key",
    "outbox": "SELECT key, template, channel, created_at FROM outbox ORDER BY key",
    "timers": "SELECT key, due_at FROM timers ORDER BY key",
    "quarantine": "SELECT count(*) FROM quarantine",
    "budget_spend": "SELECT day, spent_minor FROM budget_spend ORDER BY day",
    "timeline": "SELECT case_id, at, kind, actor FROM timeline ORDER BY case_id, at, kind, actor",
}


def snapshot(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    with closing(sqlite3.connect(db)) as connection:
        return {name: connection.execute(sql).fetchall() for name, sql in SNAPSHOT.items()}


def stored_events(db: Path) -> int:
    """Events committed so far, read while the writer runs (WAL: readers do not block it)."""
    try:
        with closing(sqlite3.connect(db, timeout=5)) as connection:
            return int(connection.execute("SELECT count(*) FROM events").fetchone()[0])
    except sqlite3.OperationalError:  # not created or not migrated yet
        return 0


def counts(output: str) -> dict[str, int]:
    """The final report line: "N accepted, N duplicates, N rejected (quarantined), N failures"."""
    found = re.search(
        r"(\d+) accepted, (\d+) duplicates, (\d+) rejected \(quarantined\), (\d+) failures", output
    )
    assert found, output
    return dict(
        zip(
            ("accepted", "duplicates", "rejected", "failures"),
            map(int, found.groups()),
            strict=True,
        )
    )


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A simulated day of a food-delivery business as a JSONL file, and its number of events."""
    simulator = Simulator(SimulationSettings(customers=1000, orders=8000))
    events = simulator.advance(simulator.horizon)
    path = tmp_path_factory.mktemp("day") / "day.jsonl"
    with path.open("w", encoding="utf-8") as stream:
        for event in events:
            stream.write(json.dumps(event, ensure_ascii=False) + "\n")
    return path, len(events)


@pytest.fixture(scope="module")
def runs(
    day: tuple[Path, int], tmp_path_factory: pytest.TempPathFactory, cli_in: Callable[..., Any]
) -> dict[str, Any]:
    """Run A (uninterrupted) and run B (killed, then restarted) side by side."""
    path, total = day
    folder = tmp_path_factory.mktemp("runs")
    cli = cli_in(folder)
    a_db, b_db = folder / "a.db", folder / "b.db"

    def command(db: Path) -> tuple[object, ...]:
        return ("ingest", path, "--db", db, "--batch-size", BATCH, "-q")

    run_a = cli.start(*command(a_db))
    run_b = cli.start(*command(b_db))
    try:
        deadline = time.monotonic() + 120
        while stored_events(b_db) < KILL_AFTER:
            assert run_b.poll() is None, "run B finished before it could be killed"
            assert time.monotonic() < deadline, "run B stored too few events in two minutes"
            time.sleep(0.02)
        run_b.send_signal(signal.SIGKILL)
        run_b.communicate(timeout=30)
    finally:
        if run_b.poll() is None:
            run_b.kill()
            run_b.wait()
    killed_at = stored_events(b_db)
    restarted = cli(*command(b_db), timeout=180)
    a_out, a_err = run_a.communicate(timeout=180)
    assert run_a.returncode == 0, a_err
    return {
        "file": path,
        "total": total,
        "a_db": a_db,
        "a_out": a_out,
        "b_db": b_db,
        "b_returncode": run_b.returncode,
        "killed_at": killed_at,
        "restarted": restarted,
        "folder": folder,
        "cli": cli,
    }


def test_the_kill_lands_mid_file(runs: dict[str, Any]) -> None:
    assert runs["b_returncode"] == -signal.SIGKILL
    # whole batches only: a batch is one transaction, and a killed one leaves nothing behind
    assert KILL_AFTER <= runs["killed_at"] < runs["total"]


def test_the_restart_takes_up_exactly_where_the_killed_run_stopped(runs: dict[str, Any]) -> None:
    restarted = runs["restarted"]
    assert restarted.returncode == 0, restarted.stderr
    report = counts(restarted.stdout)
    assert report["duplicates"] == runs["killed_at"]
    assert report["accepted"] == runs["total"] - runs["killed_at"]
    assert report["rejected"] == 0


def test_killed_and_restarted_run_ends_as_the_uninterrupted_one(runs: dict[str, Any]) -> None:
    a, b = snapshot(runs["a_db"]), snapshot(runs["b_db"])
    assert counts(runs["a_out"])["accepted"] == runs["total"]
    assert len(a["events"]) == runs["total"]
    # a realistic day: the comparison covers every kind of decision, not empty tables
    for table in ("cases", "failures", "compensations", "outbox", "budget_spend", "timeline"):
        assert a[table], f"run A decided nothing in {table}"
    for table in SNAPSHOT:
        assert b[table] == a[table], f"{table} differs after kill and restart"


def test_replaying_the_file_changes_nothing(runs: dict[str, Any]) -> None:
    db = runs["folder"] / "replay.db"
    with closing(sqlite3.connect(runs["a_db"])) as source, closing(sqlite3.connect(db)) as copy:
        source.backup(copy)
    before = snapshot(db)
    replay = runs["cli"]("ingest", runs["file"], "--db", db, "-q")
    assert replay.returncode == 0, replay.stderr
    report = counts(replay.stdout)
    assert report == {"accepted": 0, "duplicates": runs["total"], "rejected": 0, "failures": 0}
    assert snapshot(db) == before


def test_no_failure_is_detected_before_it_occurred(runs: dict[str, Any]) -> None:
    with closing(sqlite3.connect(runs["a_db"])) as connection:
        early = connection.execute(
            "SELECT detector, count(*) FROM failures WHERE detected_at < occurred_at "
            "GROUP BY detector ORDER BY detector"
        ).fetchall()
    assert early == []
