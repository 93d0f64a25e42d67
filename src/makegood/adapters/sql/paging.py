"""Keyset (cursor) paging for the read models: a page is the rows after the last one seen.

A list is ordered by a tuple of sort keys ending in a unique column; the cursor is that tuple
for the last row of a page, opaque to clients (URL-safe base64 of JSON). The next page is
``WHERE (keys) > (cursor) ORDER BY keys LIMIT n`` — an index range scan however deep the page,
where OFFSET would read and discard every row before it. The keys sort all one way (a mixed
order negates a numeric key), so one tuple comparison works on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from makegood.domain.errors import MakegoodError

MAX_CURSOR = 1000


class BadCursor(MakegoodError):
    """A cursor this server did not hand out (or one for another list)."""


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    total: int
    next_cursor: str | None


def encode(values: Sequence[Any]) -> str:
    tagged = [["t", v.isoformat()] if isinstance(v, datetime) else ["v", v] for v in values]
    return base64.urlsafe_b64encode(json.dumps(tagged).encode()).decode().rstrip("=")


def decode(cursor: str, width: int) -> list[Any]:
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != width:
            raise ValueError
        values: list[Any] = []
        for tag, value in raw:
            if tag == "t":
                values.append(datetime.fromisoformat(value))
            elif tag == "v" and isinstance(value, int | str) and not isinstance(value, bool):
                values.append(value)
            else:
                raise ValueError
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise BadCursor("cursor: not one this list handed out; start from the first page") from None
    return values


def page(
    conn: sa.Connection,
    query: sa.Select[Any],
    keys: Sequence[sa.ColumnElement[Any]],
    count: sa.Select[Any],
    limit: int,
    cursor: str | None,
    row: Callable[[Any], dict[str, Any]],
    descending: bool = False,
) -> Page:
    """One page of `query` ordered by `keys` (the last one unique; all ascending, or all
    descending) after `cursor`, with the total that `count` gives for the same filters."""
    if cursor:
        values = decode(cursor, len(keys))
        after = sa.tuple_(*[sa.literal(v, k.type) for k, v in zip(keys, values, strict=True)])
        here = sa.tuple_(*keys)
        query = query.where(here < after if descending else here > after)
    labelled = [k.label(f"_key{i}") for i, k in enumerate(keys)]
    order = [k.desc() for k in keys] if descending else list(keys)
    found = list(conn.execute(query.add_columns(*labelled).order_by(*order).limit(limit + 1)))
    more = len(found) > limit
    found = found[:limit]
    last = found[-1] if found and more else None
    next_cursor = encode([getattr(last, f"_key{i}") for i in range(len(keys))]) if last else None
    return Page([row(r) for r in found], int(conn.scalar(count) or 0), next_cursor)
