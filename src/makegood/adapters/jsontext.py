"""JSON text of makegood's values: datetimes as ISO 8601, Decimals as exact text."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any


def json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def to_json(value: Any, indent: int | None = None) -> str:
    """Compact JSON by default (for storage); indented and non-ASCII kept for people."""
    if indent is None:
        return json.dumps(value, default=json_default, separators=(",", ":"))
    return json.dumps(value, default=json_default, indent=indent, ensure_ascii=False)
