"""`makegood export`: events, cases, compensations or messages to JSONL or CSV, streamed.

An export of events is a file `makegood ingest` takes back (the same envelope), so a store can
be rebuilt, replayed under another policy, or moved; nothing is locked in.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import typer

from makegood.adapters.jsontext import to_json
from makegood.adapters.sql.export import KINDS, attribute_keys, export_rows
from makegood.entrypoints.cli_common import DatabaseOption, err, fail, open_store
from makegood.entrypoints.cli_common import settings as load_settings


def _moment(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise fail(f"{option}: {value!r} is not an ISO 8601 date or time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return to_json(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


@contextmanager
def _output(out: Path | None) -> Iterator[IO[str]]:
    if out is None:
        yield sys.stdout
        return
    with out.open("w", encoding="utf-8", newline="") as stream:
        yield stream


def export(
    kind: str = typer.Argument(..., help="events, cases, compensations or messages"),
    fmt: str = typer.Option("jsonl", "--format", help="jsonl or csv"),
    out: Path = typer.Option(None, "--out", "-o", help="file to write (default: stdout)"),
    since: str = typer.Option(None, help="from this time, inclusive (ISO 8601; naive is UTC)"),
    until: str = typer.Option(None, help="up to this time, exclusive (ISO 8601; naive is UTC)"),
    types: list[str] = typer.Option(
        [],
        "--type",
        help="only these (repeatable): event type, case category, compensation kind, "
        "message template",
    ),
    db: str = DatabaseOption,
) -> None:
    """Export what the store holds, in time order, in constant memory."""
    if kind not in KINDS:
        raise fail(f"unknown kind {kind!r}: choose one of {', '.join(KINDS)}")
    if fmt not in ("jsonl", "csv"):
        raise fail(f"--format must be jsonl or csv, got {fmt!r}")
    start, end = _moment(since, "--since"), _moment(until, "--until")
    store = open_store(load_settings(db))  # a missing store is said so, never created
    count = 0
    with store.engine.connect() as c, _output(out) as stream:
        rows = export_rows(c, kind, start, end, types)
        if fmt == "jsonl":
            for row in rows:
                stream.write(to_json(row) + "\n")
                count += 1
        else:
            columns = list(KINDS[kind].columns)
            keys: list[str] = []
            if kind == "events":  # attributes become columns, as `makegood ingest` reads them
                columns.remove("attributes")
                keys = attribute_keys(c, start, end, types)
            writer = csv.writer(stream)
            writer.writerow(columns + [f"attributes.{k}" for k in keys])
            for row in rows:
                attributes = row.get("attributes", {}) if keys else {}
                writer.writerow(
                    [_cell(row.get(name)) for name in columns]
                    + [_cell(attributes.get(k)) for k in keys]
                )
                count += 1
    store.dispose()
    err.print(f"{count} {kind} exported" + (f" to {out}" if out else ""))
