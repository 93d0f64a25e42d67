"""The report's figures as JSON (the same nested document the HTML page is drawn from) or as
CSV (one row per figure: its dotted path and its value)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__name__)


def jsonable(figures: Any) -> Any:
    """The figures as plain JSON values (datetimes as ISO text, Decimals as text)."""
    return json.loads(to_json(figures))


def to_json(figures: Any) -> str:
    return json.dumps(figures, default=_default, indent=2, ensure_ascii=False)


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
