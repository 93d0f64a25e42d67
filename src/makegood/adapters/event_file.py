"""Reading events from JSONL or CSV files, line by line, keeping each line's number.

CSV columns: id, type, occurred_at, customer_id, subject_id; every other column is an attribute
(``attributes.value`` or plain ``value``); empty cells are left out; numbers stay text unless the
event type's validation types them (promised_at, value, …).

A bad line never stops the file: text that is not UTF-8 (open the file with
``errors="surrogateescape"``, see `open_events`), JSON that does not parse or nests too deep, an
integer of thousands of digits, a CSV field over the csv module's limit — each becomes a `Line`
with its number and an `error`, and the reading goes on.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from makegood.adapters.json_input import BadJson, read_json

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


def open_events(path: Path) -> IO[str]:
    """The file as text that never fails to decode: bytes that are not UTF-8 arrive as lone
    surrogates, which `read_lines` reports as a bad line."""
    return path.open(encoding="utf-8", errors="surrogateescape", newline="")


_UNDECODED = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of a byte not UTF-8


def _undecoded(text: str, position: bool = True) -> str | None:
    found = _UNDECODED.search(text)
    if found is None:
        return None
    where = f"byte {found.start() + 1}: " if position else ""
    return f"not valid UTF-8 ({where}{_shown(found.group())})"


def _shown(text: str) -> str:
    """Bytes that were not UTF-8 shown as ``\\xff``, so that the line can be stored and read."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def read_lines(stream: IO[str], fmt: str) -> Iterator[Line]:
    if fmt == "jsonl":
        for number, text in enumerate(stream, start=1):
            if not text.strip():
                continue
            text = text.rstrip("\r\n")  # else a line cut short is reported at column 1
            error = _undecoded(text)
            if error is not None:
                yield Line(number, None, _shown(text), error)
                continue
            try:
                yield Line(number, read_json(text), text)
            except BadJson as bad:
                yield Line(number, None, text, str(bad))
        return
    yield from _csv_lines(stream)


def _csv_lines(stream: IO[str]) -> Iterator[Line]:
    reader = csv.DictReader(stream)
    try:
        header = reader.fieldnames or []
    except csv.Error as error:
        yield Line(1, None, "", f"CSV header unreadable: {error}")
        return
    missing = [c for c in ENVELOPE[:4] if c not in header]
    if missing:
        yield Line(1, None, ",".join(header), f"CSV header lacks column(s): {', '.join(missing)}")
        return
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:  # a field over the limit; the reader goes on after it
            # (DictReader.line_num moves only on success: ask the reader under it)
            yield Line(reader.reader.line_num, None, "", f"not valid CSV: {error}")
            continue
        number = reader.line_num
        text = json.dumps(row, ensure_ascii=False)
        if None in row:
            yield Line(number, None, text, "more cells than header columns")
            continue
        undecoded = _undecoded(text, position=False)  # `text` is not the line as read
        if undecoded is not None:
            yield Line(number, None, _shown(text), undecoded)
            continue
        event: dict[str, Any] = {k: row[k] for k in ENVELOPE if row.get(k)}
        event["attributes"] = {
            k.removeprefix("attributes."): v
            for k, v in row.items()
            if k not in ENVELOPE and v not in (None, "")
        }
        yield Line(number, event, text)


def count_lines(path: Path) -> int:
    with path.open("rb") as stream:
        return sum(1 for _ in stream)
