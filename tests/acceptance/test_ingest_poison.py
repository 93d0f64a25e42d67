"""`makegood ingest FILE` on a hostile file, as a real process, on SQLite and PostgreSQL: every
bad line is reported and quarantined with its number and reason, every good line is stored, and
running the file again changes nothing but the count of duplicates."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

URL_VARIABLE = "MAKEGOOD_TEST_DATABASE_URL"


def good(ident: str) -> bytes:
    return json.dumps(
        {
            "id": ident,
            "type": "order.placed",
            "occurred_at": "2026-11-01T12:00:00Z",
            "customer_id": f"c-{ident}",
            "subject_id": f"o-{ident}",
            "attributes": {"promised_at": "2026-11-01T12:30:00Z", "value": 20},
        }
    ).encode()


def at(ident: str, when: str) -> bytes:
    return json.dumps(
        {"id": ident, "type": "x.seen", "occurred_at": when, "customer_id": "c-x"}
    ).encode()


LINES = [
    good("g1"),  # 1
    b"[" * 10_000 + b"]" * 10_000,  # 2
    b'{"id": "big", "n": ' + b"9" * 5_000 + b"}",  # 3
    b'{"id": "latin", "text": "caf\xe9"}',  # 4
    good("g2"),  # 5
    at("y9000", "9000-01-01T00:00:00Z"),  # 6
    at("y9999", "9999-12-31T23:00:00-05:00"),  # 7
    at("y1", "0001-01-01T00:00:00+01:00"),  # 8
    b'{"id": "nul\\u0000", "type": "x.seen", "occurred_at": "2026-11-01T12:00:00Z", '
    b'"customer_id": "c\\ud800"}',  # 9
    good("g3"),  # 10
]
EXPECTED = [
    (2, "", "nests deeper than 64 levels"),
    (3, "", "not valid JSON: Exceeds the limit (4300 digits) for integer string conversion"),
    (4, "", "not valid UTF-8 (byte 29: \\xe9)"),
    (6, "occurred_at", "must be from 1970-01-01T00:00:00+00:00 to "),
    (7, "occurred_at", "is out of range: '9999-12-31T23:00:00-05:00'"),
    (8, "occurred_at", "is out of range: '0001-01-01T00:00:00+01:00'"),
    (9, "id", "contains a NUL character"),
]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, makegood: Any, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    url = os.environ.get(URL_VARIABLE)
    if not url:
        pytest.skip(f"set {URL_VARIABLE} to run on PostgreSQL")
    schema = f"mg_{secrets.token_hex(6)}"
    admin = sa.create_engine(url)
    with admin.begin() as c:
        c.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    makegood.env["MAKEGOOD_DATABASE_SCHEMA"] = schema
    try:
        yield url
    finally:
        with admin.begin() as c:
            c.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def stored(url: str, schema: str | None) -> tuple[list[str], list[tuple[Any, ...]]]:
    engine = sa.create_engine(url)
    events = sa.table("events", sa.column("id"), schema=schema)
    quarantine = sa.table(
        "quarantine", *(sa.column(c) for c in ("id", "line", "field", "reason")), schema=schema
    )
    try:
        with engine.connect() as c:
            ids = list(c.scalars(sa.select(events.c.id).order_by(events.c.id)))
            rows = c.execute(
                sa.select(quarantine.c.line, quarantine.c.field, quarantine.c.reason).order_by(
                    quarantine.c.id
                )
            ).all()
    finally:
        engine.dispose()
    return ids, [tuple(r) for r in rows]


def test_a_hostile_file_never_aborts_and_can_be_run_again(
    makegood: Any, tmp_path: Path, store_url: str
) -> None:
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"\n".join(LINES) + b"\n")
    schema = makegood.env.get("MAKEGOOD_DATABASE_SCHEMA")
    first = makegood("ingest", path, "--db", store_url, "--clock", "event")
    assert first.returncode == 2, first.stderr
    assert "Traceback" not in first.stderr
    reported = [line for line in first.stderr.splitlines() if line.startswith(f"{path}:")]
    assert [int(line.split(":")[1]) for line in reported] == [n for n, _, _ in EXPECTED]
    assert "3 accepted, 0 duplicates, 7 rejected" in " ".join(first.stdout.split())
    ids, quarantine = stored(store_url, schema)
    assert ids == ["g1", "g2", "g3"]
    assert [(n, f) for n, f, _ in quarantine] == [(n, f) for n, f, _ in EXPECTED]
    for (_, _, reason), (_, _, expected) in zip(quarantine, EXPECTED, strict=True):
        assert reason.startswith(expected), reason

    again = makegood("ingest", path, "--db", store_url, "--clock", "event")
    assert again.returncode == 2, again.stderr
    assert "0 accepted, 3 duplicates, 7 rejected" in " ".join(again.stdout.split())
    assert stored(store_url, schema)[0] == ["g1", "g2", "g3"]


def test_a_csv_field_over_the_limit_is_one_bad_line(makegood: Any, tmp_path: Path) -> None:
    path = tmp_path / "hostile.csv"
    rows = [
        "id,type,occurred_at,customer_id,subject_id,text",
        "m1,message.received,2026-11-01T12:00:00Z,c1,,hello",
        "m2,message.received,2026-11-01T12:00:00Z,c1,," + "x" * 140_000,
        "m3,message.received,2026-11-01T12:01:00Z,c1,,thanks",
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    result = makegood("ingest", path, "--db", url)
    assert result.returncode == 2, result.stderr
    assert f"{path}:3: not valid CSV: field larger than field limit (131072)" in result.stderr
    assert stored(url, None)[0] == ["m1", "m3"]
