"""What makes two events under one id the same event: a digest of everything but the id.

The engine acts on an event id once. Sending the same event again is a duplicate; sending a
*different* event under an id already taken is a conflict the sender must hear about. Stores
keep the payload as JSON, so the digest is taken of the JSON form (`jsonable`), which a stored
event and a freshly parsed one share. A whole number is one number whether written `1e20` or
`100000000000000000000`: PostgreSQL's JSONB gives the first back as the second.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from makegood.domain.event import Event, jsonable

# json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str), built once
_ENCODE = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=str).encode


def fingerprint(event: Event) -> str:
    """A digest of the event's type, time, customer, subject and attributes (not its id)."""
    payload = [
        event.type,
        event.occurred_at.astimezone(UTC).isoformat(),
        event.customer_id,
        event.subject_id,
        _json_form(event.attributes),
    ]
    text = _ENCODE(payload)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _json_form(attributes: Any) -> Any:
    """`_whole(jsonable(attributes))` in one pass for the usual flat dict of strings, numbers,
    amounts and date-times; anything else takes the two general functions."""
    if type(attributes) is not dict:
        return _whole(jsonable(attributes))
    form = {}
    for key, value in attributes.items():
        kind = type(key)
        if kind is not str:
            return _whole(jsonable(attributes))
        kind = type(value)
        if kind is str or kind is int or kind is bool or value is None:
            form[key] = value
        elif kind is Decimal:
            form[key] = str(value)
        elif kind is datetime:
            form[key] = value.isoformat()
        elif kind is float:
            form[key] = int(value) if value.is_integer() else value
        else:
            form[key] = _whole(jsonable(value))
    return form


def _whole(value: Any) -> Any:
    """Floats that are whole numbers as ints, all the way down."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole(v) for v in value]
    return value
