"""The `makegood` command line, run as a real process: policy check, ingest with bad lines,
browsing a store, and the demo."""

from __future__ import annotations

import csv
import json
import sqlite3
from contextlib import closing
from decimal import Decimal
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.slow


def shipped_policy() -> str:
    with as_file(files("makegood.policies") / "food_delivery.yaml") as path:
        return Path(path).read_text(encoding="utf-8")


def one_line(text: str) -> str:
    """Rich wraps long messages at the console width; compare them with the line breaks undone."""
    return " ".join(text.split())


def spoil(tmp_path: Path, find: str, old: str, new: str) -> tuple[Path, int]:
    """A copy of the shipped policy with `old` replaced by `new` on the first line holding `find`;
    returns the copy and that line's number."""
    lines = shipped_policy().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if find in line)
    assert old in lines[index]
    lines[index] = lines[index].replace(old, new, 1)
    path = tmp_path / "policy.yaml"
    path.write_text("".join(lines), encoding="utf-8")
    return path, index + 1


# policy check ----------------------------------------------------------------------------------
def test_policy_check_accepts_the_shipped_policy(makegood: Any) -> None:
    with as_file(files("makegood.policies") / "food_delivery.yaml") as path:
        result = makegood("policy", "check", path)
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def test_policy_check_names_the_line_of_a_broken_expression(makegood: Any, tmp_path: Path) -> None:
    # the brackets look like Rich markup: the message must quote the expression as written
    path, number = spoil(
        tmp_path, 'attributes.issue == "missing"', "and attributes", "and and attributes[/x]"
    )
    result = makegood("policy", "check", path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    message = one_line(result.stderr)
    assert f"line {number}:" in message
    assert "when: expected an operand, found 'and'" in message
    assert "attributes[/x]" in message


def test_policy_check_names_the_line_of_a_bad_severity(makegood: Any, tmp_path: Path) -> None:
    path, number = spoil(
        tmp_path, "category: missing_item, severity: major", "severity: major", "severity: awful"
    )
    result = makegood("policy", "check", path)
    assert result.returncode != 0
    message = one_line(result.stderr)
    assert f"line {number}:" in message
    assert "failure.severity: Input should be 'minor', 'major' or 'critical'" in message


# ingest with bad lines -------------------------------------------------------------------------
def event(
    ident: str,
    type_: str,
    at: str,
    customer: str | None,
    subject: str | None = None,
    **attributes: Any,
) -> dict[str, Any]:
    raw: dict[str, Any] = {"id": ident, "type": type_, "occurred_at": f"2026-11-02T{at}:00Z"}
    if customer is not None:
        raw["customer_id"] = customer
    if subject is not None:
        raw["subject_id"] = subject
    raw["attributes"] = attributes
    return raw


GOOD = [
    event("c1", "customer.upserted", "06:00", "c1", name="Ana", locale="en", tier="standard"),
    event(
        "o1", "order.placed", "12:00", "c1", "o1", promised_at="2026-11-02T12:30:00Z", value="24.50"
    ),
    event(
        "o2", "order.placed", "12:05", "c2", "o2", promised_at="2026-11-02T12:40:00Z", value="18.00"
    ),
    # an id that looks like Rich markup must neither crash nor vanish from the listings
    event("o4", "order.placed", "12:10", "[/vip]", "o4", promised_at="2026-11-02T12:50:00Z"),
    event("o2-issue", "order.item_issue", "12:50", "c2", "o2", issue="missing", item_value="6.50"),
    event("o2-done", "order.delivered", "12:45", "c2", "o2"),
    event("o4-done", "order.delivered", "12:40", "[/vip]", "o4"),
    event(
        "o4-issue", "order.item_issue", "12:55", "[/vip]", "o4", issue="damaged", item_value="4.00"
    ),
    event("o1-done", "order.delivered", "13:30", "c1", "o1"),
    event("c1-buys", "purchase", "16:00", "c1", value="12.00"),
]
NO_CUSTOMER = event("o3", "order.placed", "12:20", None, "o3")
TRUNCATED = '{"id": "o5", "type": "order.placed", "occurred_at": "2026-11-02T12:30:00Z"'


@pytest.fixture(scope="module")
def jsonl_store(tmp_path_factory: pytest.TempPathFactory, cli_in: Any) -> dict[str, Any]:
    """A JSONL file with a cut-short line (3) and an event without customer (6) among good
    ones, ingested once; a long name, so that `FILE:LINE:` is longer than a console line."""
    folder = tmp_path_factory.mktemp("jsonl")
    path = folder / "events-from-the-order-system-with-two-bad-lines-among-the-good-ones.jsonl"
    lines = [json.dumps(e) for e in GOOD]
    lines.insert(2, TRUNCATED)
    lines.insert(5, json.dumps(NO_CUSTOMER))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cli = cli_in(folder)
    db = folder / "store.db"
    return {"path": path, "db": db, "cli": cli, "result": cli("ingest", path, "--db", db)}


def quarantine(db: Path) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(db)) as connection:
        return connection.execute(
            "SELECT line, field, reason FROM quarantine ORDER BY line"
        ).fetchall()


def event_ids(db: Path) -> set[str]:
    with closing(sqlite3.connect(db)) as connection:
        return {row[0] for row in connection.execute("SELECT id FROM events")}


def test_ingest_reports_bad_jsonl_lines_and_keeps_the_good_ones(
    jsonl_store: dict[str, Any],
) -> None:
    result, path, db = jsonl_store["result"], jsonl_store["path"], jsonl_store["db"]
    assert result.returncode == 2, result.stderr
    errors = result.stderr.splitlines()
    # one line each, whole, so that an editor or grep can jump to it
    assert f"{path}:3: not valid JSON: Expecting ',' delimiter (column {len(TRUNCATED) + 1})" in (
        errors
    )
    assert f"{path}:6: customer_id: is required" in errors
    assert "10 accepted, 0 duplicates, 2 rejected" in one_line(result.stdout)
    assert event_ids(db) == {e["id"] for e in GOOD}
    assert quarantine(db) == [
        (3, "", f"not valid JSON: Expecting ',' delimiter (column {len(TRUNCATED) + 1})"),
        (6, "customer_id", "is required"),
    ]


def test_ingest_reports_bad_csv_rows_and_keeps_the_good_ones(makegood: Any, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    header = [
        "id",
        "type",
        "occurred_at",
        "customer_id",
        "subject_id",
        "attributes.promised_at",
        "value",
    ]
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)  # line 1
        writer.writerow(
            [
                "o1",
                "order.placed",
                "2026-11-02T12:00:00Z",
                "c1",
                "o1",
                "2026-11-02T12:30:00Z",
                "24.50",
            ]
        )
        writer.writerow(
            [
                "o2",
                "order.placed",
                "2026-11-02T12:01:00Z",
                "c2",
                "o2",
                "2026-11-02T12:30:00Z",
                "20.00",
                "surplus",
            ]
        )  # line 3
        writer.writerow(
            [
                "o3",
                "order.placed",
                "2026-11-02T12:02:00Z",
                "",
                "o3",
                "2026-11-02T12:30:00Z",
                "20.00",
            ]
        )  # line 4
        writer.writerow(["o1-done", "order.delivered", "2026-11-02T13:30:00Z", "c1", "o1", "", ""])
    db = tmp_path / "store.db"
    result = makegood("ingest", path, "--db", db)
    assert result.returncode == 2, result.stderr
    errors = result.stderr.splitlines()
    assert f"{path}:3: more cells than header columns" in errors
    assert f"{path}:4: customer_id: is required" in errors
    assert event_ids(db) == {"o1", "o1-done"}
    assert quarantine(db) == [
        (3, "", "more cells than header columns"),
        (4, "customer_id", "is required"),
    ]
    with closing(sqlite3.connect(db)) as connection:
        (attributes,) = connection.execute(
            "SELECT attributes FROM events WHERE id = 'o1'"
        ).fetchone()
    assert json.loads(attributes)["value"] == "24.50"


# browsing the store ----------------------------------------------------------------------------
def test_cases_and_case_as_json_and_as_tables(jsonl_store: dict[str, Any]) -> None:
    cli, db = jsonl_store["cli"], jsonl_store["db"]
    listed = cli("cases", "--json", "--db", db)
    assert listed.returncode == 0, listed.stderr
    cases = {(c["customer_id"], c["subject_key"]): c for c in json.loads(listed.stdout)}
    assert {("c1", "o1"), ("c2", "o2"), ("[/vip]", "o4")} <= set(cases)
    late = cases["c1", "o1"]
    assert late["category"] == "late_delivery"

    shown = cli("case", late["id"], "--json", "--db", db)
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    assert detail["case"]["id"] == late["id"]
    assert detail["timeline"], "a case without its timeline"
    assert {"at", "kind", "actor", "data"} <= set(detail["timeline"][0])
    assert [f["category"] for f in detail["failures"]] == ["late_delivery"]
    assert detail["failures"][0]["lateness_s"] == 3600
    assert detail["messages"], "no message to the customer"

    # ids come from events: the tables print them as written, never as Rich markup
    table = cli("cases", "--db", db)
    assert table.returncode == 0, table.stderr
    assert "[/vip]" in table.stdout
    shown = cli("case", cases["[/vip]", "o4"]["id"], "--db", db)
    assert shown.returncode == 0, shown.stderr
    assert "customer [/vip]" in one_line(shown.stdout)


def test_summary_as_json(jsonl_store: dict[str, Any]) -> None:
    cli, db = jsonl_store["cli"], jsonl_store["db"]
    result = cli("summary", "--json", "--db", db)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["events"] == len(GOOD)
    assert figures["quarantined"] == 2
    assert figures["failures"]["by_category"]["late_delivery"] == 1
    assert figures["failures"]["by_category"]["missing_item"] == 1


def test_dispatch_sends_the_outbox_once(jsonl_store: dict[str, Any], tmp_path: Path) -> None:
    cli, db = jsonl_store["cli"], tmp_path / "copy.db"
    with (
        closing(sqlite3.connect(jsonl_store["db"])) as source,
        closing(sqlite3.connect(db)) as copy,
    ):
        source.backup(copy)
        by_channel = dict(
            copy.execute("SELECT channel, count(*) FROM outbox GROUP BY channel").fetchall()
        )
    emails = by_channel.pop("email")
    # no SMTP server or webhook is configured here: the console channel stands in for both
    assert set(by_channel) <= {"action"}
    total = emails + by_channel.get("action", 0)
    result = cli("dispatch", "--db", db)
    assert result.returncode == 0, result.stderr
    assert f"{total} sent, 0 dead-lettered" in result.stderr
    assert len(result.stdout.splitlines()) == total  # the console channel, one line each
    again = cli("dispatch", "--db", db)
    assert again.returncode == 0, again.stderr
    assert "0 sent, 0 dead-lettered" in again.stderr
    assert again.stdout == ""


# the demo --------------------------------------------------------------------------------------
def test_demo_runs_a_day_and_leaves_a_browsable_store(makegood: Any, tmp_path: Path) -> None:
    result = makegood("demo", "--customers", 200, "--orders", 1200, "--db", "demo.db")
    assert result.returncode == 0, result.stderr
    for heading in ("What makegood detected", "What it did", "What it spent", "What it learned"):
        assert heading in result.stdout
    assert "Personal recovery" in result.stdout and "tone personal:" in result.stdout

    summary = makegood("summary", "--db", tmp_path / "demo.db", "--json")
    assert summary.returncode == 0, summary.stderr
    figures = json.loads(summary.stdout)
    assert figures["failures"]["total"] > 0
    budget = Decimal(str(yaml.safe_load(shipped_policy())["budgets"]["global_per_day"]))
    assert figures["spend"]["by_day"]
    for day, spent in figures["spend"]["by_day"].items():
        assert Decimal(spent) <= budget, f"{day}: spent {spent} of a {budget} budget"
