"""`makegood export`, run as a real process: an export of events rebuilds the same store through
`makegood ingest`; filters and CSV; compensations for finance."""

from __future__ import annotations

import csv
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from makegood.entrypoints.demo.simulator import SimulationSettings, Simulator

pytestmark = pytest.mark.slow

# volatile by design: arrival times, autoincrement ids and random voucher codes
VOLATILE = {"received_at", "code"}
TABLES = ("events", "customers", "subjects", "timers", "cases", "failures", "compensations")


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    events = Simulator(SimulationSettings(customers=120, orders=600, hours=6)).advance(
        SimulationSettings().start.replace(hour=23)
    )
    path = tmp_path_factory.mktemp("day") / "day.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path


def rows(db: Path, table: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(db)) as c:
        cursor = c.execute(f"SELECT * FROM {table}")  # noqa: S608 (test's own table names)
        names = [d[0] for d in cursor.description]
        keep = [i for i, name in enumerate(names) if name not in VOLATILE]
        return sorted(tuple(row[i] for i in keep) for row in cursor.fetchall())


def test_an_export_of_events_rebuilds_an_identical_store(
    makegood: Any, tmp_path: Path, day: Path
) -> None:
    assert makegood("ingest", day, "--db", "a.db", "-q").returncode == 0
    exported = makegood("export", "events", "--db", "a.db", "-o", "events.jsonl")
    assert exported.returncode == 0, exported.stderr
    count = len(day.read_text(encoding="utf-8").splitlines())
    assert f"{count} events exported" in exported.stderr
    again = makegood("ingest", "events.jsonl", "--db", "b.db", "-q")
    assert again.returncode == 0, again.stderr
    for table in TABLES:
        first = rows(tmp_path / "a.db", table)
        assert first, f"{table} is empty: the day should fill it"
        assert rows(tmp_path / "b.db", table) == first, table


def test_filters_and_csv(makegood: Any, tmp_path: Path, day: Path) -> None:
    assert makegood("ingest", day, "--db", "a.db", "-q").returncode == 0
    source = [json.loads(line) for line in day.read_text(encoding="utf-8").splitlines()]
    noon = "2026-11-02T09:00:00+00:00"
    wanted = [e for e in source if e["type"] == "order.placed" and e["occurred_at"] >= noon]
    result = makegood(
        "export", "events", "--db", "a.db", "--type", "order.placed", "--since", "2026-11-02T09:00"
    )
    assert result.returncode == 0, result.stderr
    got = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(e["id"] for e in got) == sorted(e["id"] for e in wanted)
    assert all(e["subject_id"] for e in got)

    result = makegood("export", "events", "--db", "a.db", "--format", "csv", "-o", "e.csv")
    assert result.returncode == 0, result.stderr
    with (tmp_path / "e.csv").open(encoding="utf-8", newline="") as stream:
        table = list(csv.DictReader(stream))
    assert len(table) == len(source)
    assert {"id", "type", "occurred_at", "customer_id", "attributes.promised_at"} <= set(table[0])
    # the CSV goes back in through ingest like any business's CSV file
    back = makegood("ingest", "e.csv", "--db", "c.db", "-q")
    assert back.returncode == 0, back.stderr
    assert len(rows(tmp_path / "c.db", "events")) == len(source)


def test_compensations_for_finance(makegood: Any, tmp_path: Path, day: Path) -> None:
    assert makegood("ingest", day, "--db", "a.db", "-q").returncode == 0
    result = makegood("export", "compensations", "--db", "a.db", "--format", "csv")
    assert result.returncode == 0, result.stderr
    table = list(csv.DictReader(result.stdout.splitlines()))
    with closing(sqlite3.connect(tmp_path / "a.db")) as c:
        granted = c.execute(
            "SELECT id, amount, code FROM compensations WHERE status = 'granted'"
        ).fetchall()
    assert granted, "the day should grant vouchers"
    exported = {(r["id"], r["amount"], r["code"]) for r in table if r["status"] == "granted"}
    assert exported == {(i, a, code or "") for i, a, code in granted}


def test_refuses_an_unknown_kind_and_a_bad_time(makegood: Any) -> None:
    result = makegood("export", "refunds")
    assert result.returncode == 1
    assert "unknown kind 'refunds'" in result.stderr
    result = makegood("export", "events", "--since", "yesterday")
    assert result.returncode == 1
    assert "--since" in result.stderr
