"""The report's figures as JSON (the same nested document the HTML page is drawn from) or as
CSV (one row per figure: its dotted path and its value)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from makegood.adapters.jsontext import to_json as _to_json
from makegood.domain.event import jsonable


def to_json(figures: Any) -> str:
    return _to_json(figures, indent=2)


def flatten(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from flatten(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from flatten(item, f"{path}.{index}")
    else:
        yield path, value


def to_csv(figures: Any) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["figure", "value"])
    for path, value in flatten(jsonable(figures)):
        writer.writerow([path, "" if value is None else value])
    return out.getvalue()
