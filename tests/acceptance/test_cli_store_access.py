"""Finding the store from the command line, run as a real process in an empty folder: read
commands never create or migrate a store, a path is a database URL, the demo's store is easy to
browse, ids printed can be pasted back, and tokens land in the configured PostgreSQL schema."""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.slow

READS = (
    ("cases",),
    ("case", "case-1"),
    ("incidents",),
    ("incident", "inc-1"),
    ("summary",),
    ("outbox",),
    ("report",),
    ("token", "list"),
    ("export", "events"),
)


def one_line(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("args", READS, ids=lambda a: "-".join(a))
def test_a_read_command_on_a_missing_store_says_so_in_one_line_and_creates_nothing(
    makegood: Any, tmp_path: Path, args: tuple[str, ...]
) -> None:
    result = makegood(*args)
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: no store at makegood.db")
    assert list(tmp_path.iterdir()) == []


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    from makegood.adapters.sql.database import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def test_a_read_command_on_an_unmigrated_store_says_so_and_leaves_it_alone(
    makegood: Any, tmp_path: Path
) -> None:
    (tmp_path / "empty.db").touch()
    for args in (("cases",), ("summary",), ("report",)):
        result = makegood(*args, "--db", "empty.db")
        assert result.returncode == 1, result.stdout
        assert result.stderr.splitlines() == [
            "error: the store at empty.db holds no makegood schema, this makegood needs "
            f"{head_revision()}: run `makegood migrate` first"
        ]
    assert (tmp_path / "empty.db").stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]


def test_migrate_says_it_created_the_schema_then_that_it_is_up_to_date(makegood: Any) -> None:
    created = makegood("migrate", "--db", "new.db")
    assert created.returncode == 0, created.stderr
    assert one_line(created.stdout) == f"created the schema (revision {head_revision()}) in new.db"
    again = makegood("migrate", "--db", "new.db")
    assert (
        one_line(again.stdout) == f"the schema of new.db is up to date (revision {head_revision()})"
    )


def test_a_path_in_makegood_database_url_is_a_sqlite_file(makegood: Any, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "x.db"
    target.parent.mkdir()
    makegood.env["MAKEGOOD_DATABASE_URL"] = str(target)
    created = makegood("migrate")
    assert created.returncode == 0, created.stderr
    assert target.exists()
    listed = makegood("cases", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []
    makegood.env["MAKEGOOD_DATABASE_URL"] = "relative.db"
    assert makegood("migrate").returncode == 0
    assert (tmp_path / "relative.db").exists()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, cli_in: Any) -> dict[str, Any]:
    """A small demo day, run once in an empty folder."""
    folder = tmp_path_factory.mktemp("demo")
    cli = cli_in(folder)
    result = cli("demo", "--customers", 300, "--orders", 2000, timeout=300)
    assert result.returncode == 0, result.stderr
    return {"cli": cli, "folder": folder, "result": result}


def test_the_demo_says_how_to_browse_its_store_and_the_readme_commands_work(
    demo: dict[str, Any],
) -> None:
    cli, folder, result = demo["cli"], demo["folder"], demo["result"]
    assert "export MAKEGOOD_DATABASE_URL=makegood-demo.db" in result.stdout.splitlines()[-2]
    # as the README says: without the variable, a read names the demo's store and creates nothing
    missing = cli("cases")
    assert missing.returncode == 1
    assert "the demo's store is makegood-demo.db" in missing.stderr
    assert not (folder / "makegood.db").exists()

    cli.env["MAKEGOOD_DATABASE_URL"] = "makegood-demo.db"
    try:
        for args in (("summary",), ("cases", "--status", "escalated"), ("incidents",)):
            shown = cli(*args)
            assert shown.returncode == 0, (args, shown.stderr)
            assert shown.stdout.strip(), args
        cases = json.loads(cli("cases", "--json", "--limit", 5).stdout)
        case = cli("case", cases[0]["id"])
        assert case.returncode == 0, case.stderr
        assert cases[0]["id"] in case.stdout
        report = cli("report", "--out", "r.html", "-q")
        assert report.returncode == 0, report.stderr
        assert (folder / "r.html").stat().st_size > 10_000
    finally:
        del cli.env["MAKEGOOD_DATABASE_URL"]
    assert not (folder / "makegood.db").exists()


def test_incident_ids_are_printed_whole_and_can_be_pasted_back(demo: dict[str, Any]) -> None:
    cli = demo["cli"]
    cli.env["COLUMNS"] = "60"  # a narrow terminal: the other columns give way, the id does not
    try:
        listed = cli("incidents", "--db", "makegood-demo.db")
        full = json.loads(cli("incidents", "--json", "--db", "makegood-demo.db").stdout)
    finally:
        del cli.env["COLUMNS"]
    assert listed.returncode == 0, listed.stderr
    assert full, "the demo declares an incident"
    ids = re.findall(r"inc-[0-9a-f]+", listed.stdout)
    assert sorted(ids) == sorted(i["id"] for i in full)
    shown = cli("incident", ids[0], "--db", "makegood-demo.db")
    assert shown.returncode == 0, shown.stderr
    assert one_line(shown.stdout).startswith(ids[0])
    # a unique prefix works too; an ambiguous one is named as such
    short = cli("incident", ids[0][:8], "--json", "--db", "makegood-demo.db")
    assert short.returncode == 0, short.stderr
    assert json.loads(short.stdout)["id"] == ids[0]
    ambiguous = cli("case", "case-", "--db", "makegood-demo.db")
    assert ambiguous.returncode == 1
    assert "is the start of several ids" in ambiguous.stderr


# tokens in a PostgreSQL schema -----------------------------------------------------------------
@pytest.fixture
def postgres_schema() -> Iterator[tuple[str, str]]:
    url = os.environ.get("MAKEGOOD_TEST_DATABASE_URL")
    if not url:
        pytest.skip("set MAKEGOOD_TEST_DATABASE_URL to run the PostgreSQL tests")
    schema = f"mg_{secrets.token_hex(6)}"
    engine = sa.create_engine(url)
    with engine.begin() as c:
        c.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield url, schema
    finally:
        with engine.begin() as c:
            c.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        engine.dispose()


@pytest.mark.postgres
def test_token_commands_use_the_configured_schema(
    makegood: Any, postgres_schema: tuple[str, str]
) -> None:
    url, schema = postgres_schema
    makegood.env["MAKEGOOD_DATABASE_URL"] = url
    makegood.env["MAKEGOOD_DATABASE_SCHEMA"] = schema
    created = makegood("token", "create", "--role", "agent", "--name", "alice", "--json")
    assert created.returncode == 0, created.stderr
    token_id = json.loads(created.stdout)["id"]
    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            names = c.execute(
                sa.text(f"SELECT name FROM {schema}.api_tokens WHERE id = :id"),  # noqa: S608 (our schema)
                {"id": token_id},
            ).scalars()
            assert list(names) == ["alice"]
            elsewhere = c.execute(
                sa.text(
                    "SELECT table_schema FROM information_schema.tables "
                    "WHERE table_name = 'api_tokens' AND table_schema <> :schema"
                ),
                {"schema": schema},
            ).scalars()
            public = [s for s in elsewhere if s == "public"]
            if public:  # another run may own public.api_tokens; ours must not be there
                found = c.execute(
                    sa.text("SELECT count(*) FROM public.api_tokens WHERE id = :id"),
                    {"id": token_id},
                ).scalar()
                assert found == 0
    finally:
        engine.dispose()
    listed = makegood("token", "list")
    assert listed.returncode == 0, listed.stderr
    assert token_id in listed.stdout and "alice" in listed.stdout
    revoked = makegood("token", "revoke", token_id)
    assert revoked.returncode == 0, revoked.stderr
    assert "revoked" in makegood("token", "list").stdout


# which policy a store is filled under ----------------------------------------------------------
def events_file(folder: Path, name: str, *ids: str) -> Path:
    path = folder / name
    lines = [
        json.dumps(
            {
                "id": ident,
                "type": "order.placed",
                "occurred_at": "2026-11-02T12:00:00Z",
                "customer_id": "c1",
                "subject_id": ident,
                "attributes": {"promised_at": "2026-11-02T12:30:00Z"},
            }
        )
        for ident in ids
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def stored_ids(db: Path) -> set[str]:
    engine = sa.create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as c:
            return set(c.execute(sa.text("SELECT id FROM events")).scalars())
    finally:
        engine.dispose()


def test_ingest_names_its_policy_and_refuses_to_switch_a_store_silently(
    makegood: Any, tmp_path: Path
) -> None:
    from importlib.resources import as_file, files

    with as_file(files("makegood.policies") / "food_delivery.yaml") as shipped:
        text = Path(shipped).read_text(encoding="utf-8")
    other = tmp_path / "generous.yaml"
    other.write_text(re.sub(r"global_per_day: .*", "global_per_day: 99999", text), "utf-8")

    first = makegood("ingest", events_file(tmp_path, "a.jsonl", "o1"), "--db", "s.db")
    assert first.returncode == 0, first.stderr
    assert "policy: the shipped food-delivery policy (" in first.stderr

    # MAKEGOOD_POLICY pointing elsewhere is not enough to switch: nothing is stored
    makegood.env["MAKEGOOD_POLICY"] = str(other)
    refused = makegood("ingest", events_file(tmp_path, "b.jsonl", "o2"), "--db", "s.db")
    assert refused.returncode == 1
    message = one_line(refused.stderr)
    assert "this store was filled under the shipped food-delivery policy" in message
    assert f"this run would use {other}" in message and "pass --policy FILE" in message
    assert stored_ids(tmp_path / "s.db") == {"o1"}

    # --policy switches, and says so once
    switched = makegood("ingest", tmp_path / "b.jsonl", "--db", "s.db", "--policy", other)
    assert switched.returncode == 0, switched.stderr
    assert f"policy: {other} (" in switched.stderr
    assert "policy changed: this store was filled under the shipped" in one_line(switched.stderr)
    assert stored_ids(tmp_path / "s.db") == {"o1", "o2"}
    again = makegood("ingest", events_file(tmp_path, "c.jsonl", "o3"), "--db", "s.db")
    assert again.returncode == 0, again.stderr  # $MAKEGOOD_POLICY now agrees with the store
    assert "policy changed" not in again.stderr

    del makegood.env["MAKEGOOD_POLICY"]
    back = makegood("ingest", events_file(tmp_path, "d.jsonl", "o4"), "--db", "s.db")
    assert back.returncode == 1
    assert f"filled under {other}" in one_line(back.stderr)


# the report's window and a business's own ratings, end to end ---------------------------------
def test_summary_and_report_say_which_window_they_compare(demo: dict[str, Any]) -> None:
    cli = demo["cli"]
    summary = cli("summary", "--db", "makegood-demo.db")
    assert summary.returncode == 0, summary.stderr
    assert "What changed" in summary.stdout
    line = next(x for x in summary.stdout.splitlines() if x.startswith("window: "))
    assert "against the" in line and "enough data" in line
    asked = cli(
        "summary",
        "--json",
        "--since",
        "2026-11-02T12:00",
        "--until",
        "2026-11-02T18:00",
        "--db",
        "makegood-demo.db",
    )
    assert asked.returncode == 0, asked.stderr
    window = json.loads(asked.stdout)["change"]["window"]
    assert (window["since"], window["until"], window["chosen_by"]) == (
        "2026-11-02T12:00:00+00:00",
        "2026-11-02T18:00:00+00:00",
        "reader",
    )
    report = cli(
        "report", "--format", "json", "--until", "2026-11-02T18:00", "--db", "makegood-demo.db"
    )
    assert report.returncode == 0, report.stderr
    # --until alone: the 7 days before it
    assert json.loads(report.stdout)["window"]["since"] == "2026-10-26T18:00:00+00:00"
    bad = cli("report", "--since", "yesterday", "--db", "makegood-demo.db")
    assert bad.returncode == 1
    assert bad.stderr.splitlines() == [
        "error: --since: not a date or ISO 8601 date-time: 'yesterday'"
    ]


def test_a_business_s_own_ratings_reach_the_report(makegood: Any, tmp_path: Path) -> None:
    from importlib.resources import as_file, files

    with as_file(files("makegood.policies") / "food_delivery.yaml") as shipped:
        text = Path(shipped).read_text(encoding="utf-8")
    policy = tmp_path / "with-reviews.yaml"
    policy.write_text(
        text
        + "\nreviews:\n  - {kind: nps, type: review.posted, low: 0, high: 10, satisfied_at: 9}\n",
        encoding="utf-8",
    )

    def at(hhmm: str) -> str:
        return f"2026-11-02T{hhmm}:00Z"

    events = [
        ("p1", "order.placed", at("12:00"), "c1", "o1", {"promised_at": at("12:30")}),
        ("p2", "order.placed", at("12:05"), "c2", "o2", {"promised_at": at("12:40")}),
        ("d2", "order.delivered", at("12:35"), "c2", "o2", {}),
        ("d1", "order.delivered", at("13:30"), "c1", "o1", {}),  # an hour late
        ("r1", "review.posted", at("15:00"), "c1", "o1", {"score": 2}),
        ("r2", "review.posted", at("15:00"), "c2", "o2", {"score": 10}),
        ("s3", "survey.answered", at("15:10"), "c2", None, {"score": 5}),  # no case: a review
        # a low rating is a failure under the shipped policy, but not one it reacts to
        ("s4", "survey.answered", at("15:20"), "c4", None, {"score": 1}),
        ("b1", "purchase", at("16:00"), "c3", None, {}),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(
                {
                    "id": i,
                    "type": ty,
                    "occurred_at": when,
                    "customer_id": c,
                    "subject_id": s,
                    "attributes": a,
                }
                if s
                else {"id": i, "type": ty, "occurred_at": when, "customer_id": c, "attributes": a}
            )
            for i, ty, when, c, s, a in events
        )
        + "\n",
        encoding="utf-8",
    )
    ingested = makegood("ingest", path, "--policy", policy, "--db", "s.db")
    assert ingested.returncode == 0, ingested.stderr
    report = makegood("report", "--format", "json", "--policy", policy, "--db", "s.db")
    assert report.returncode == 0, report.stderr
    reviews = json.loads(report.stdout)["reviews"]
    assert (reviews["ratings"], reviews["unread"]) == (4, 0)
    groups = {k: (g["successes"], g["n"]) for k, g in reviews["groups"].items()}
    assert groups == {"late": (0, 1), "on_time": (1, 1), "failed": (0, 1), "not_failed": (2, 3)}
    # c4's rating opened a poor_experience failure of its own, which it is not reacting to
    assert [r["category"] for r in reviews["by_category"]] == ["late_delivery"]
    cases = json.loads(makegood("cases", "--json", "--db", "s.db").stdout)
    assert {c["customer_id"]: c["category"] for c in cases}["c4"] == "poor_experience"
    page = makegood("report", "--policy", policy, "--db", "s.db", "-q")
    assert page.returncode == 0, page.stderr
    assert (
        "What customers say in your own ratings" in (tmp_path / "makegood-report.html").read_text()
    )
