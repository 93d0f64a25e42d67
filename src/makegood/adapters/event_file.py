"""Reading events from JSONL or CSV files, line by line, keeping each line's number.

CSV columns: id, type, occurred_at, customer_id, subject_id; every other column is an attribute
(``attributes.value`` or plain ``value``); empty cells are left out; numbers stay text unless the
event type's validation types them (promised_at, value, …).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ENVELOPE = ("id", "type", "occurred_at", "customer_id", "subject_id")


@dataclass(frozen=True)
class Line:
    number: int
    raw: Any  # the decoded object, or None when `error` says why it could not be decoded
    text: str
    error: str | None = None


def file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise ValueError(f"{path}: unknown format {suffix!r}; use .jsonl or .csv (or --format)")


def read_lines(stream: IO[str], fmt: str) -> Iterator[Line]:
    if fmt == "jsonl":
        for number, text in enumerate(stream, start=1):
            if not text.strip():
                continue
            text = text.rstrip("\r\n")  # else a line cut short is reported at column 1
            try:
                yield Line(number, json.loads(text), text)
            except json.JSONDecodeError as error:
                yield Line(
                    number, None, text, f"not valid JSON: {error.msg} (column {error.colno})"
                )
        return
    reader = csv.DictReader(stream)
    missing = [c for c in ENVELOPE[:4] if c not in (reader.fieldnames or [])]
    if missing:
        yield Line(
            1,
            None,
            ",".join(reader.fieldnames or []),
            f"CSV header lacks column(s): {', '.join(missing)}",
        )
        return
    for row in reader:
        number = reader.line_num
        if None in row:
            yield Line(number, None, str(row), "more cells than header columns")
            continue
        event: dict[str, Any] = {k: row[k] for k in ENVELOPE if row.get(k)}
        event["attributes"] = {
            k.removeprefix("attributes."): v
            for k, v in row.items()
            if k not in ENVELOPE and v not in (None, "")
        }
        yield Line(number, event, json.dumps(row))


def count_lines(path: Path) -> int:
    with path.open("rb") as stream:
        return sum(1 for _ in stream)
