"""JSON text of makegood's values: datetimes as ISO 8601, Decimals as exact text."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson

from makegood.domain.event import jsonable


def json_default(value: Any) -> Any:
    """What `json.dumps` cannot write itself, as `jsonable` writes it (so a store may hand
    its values straight to the encoder, whose walk is C, instead of converting them first)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    converted = jsonable(value)  # sets, dataclasses
    if converted is value:
        raise TypeError(f"cannot write {type(value).__name__} as JSON")
    return converted


_COMPACT = json.JSONEncoder(default=json_default, separators=(",", ":"))  # built once: hot
# orjson writes what `_COMPACT` writes (datetimes and dates as `isoformat`, the rest through
# `json_default`), five times faster, with non-ASCII as UTF-8 rather than \u escapes; what it
# refuses (an integer past 64 bits, a key that is not a string) goes to `_COMPACT`
_FAST = orjson.OPT_PASSTHROUGH_DATACLASS


def to_json(value: Any, indent: int | None = None) -> str:
    """Compact JSON by default (for storage); indented and non-ASCII kept for people."""
    if indent is None:
        try:
            return orjson.dumps(value, default=json_default, option=_FAST).decode()
        except TypeError:  # orjson.JSONEncodeError is one
            return _COMPACT.encode(value)
    return json.dumps(value, default=json_default, indent=indent, ensure_ascii=False)
