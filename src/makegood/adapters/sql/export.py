"""Exports of what the store holds, streamed row by row in constant memory.

Events come out in the event envelope (`id, type, occurred_at, customer_id, subject_id?,
attributes`), so an export of events is a file `makegood ingest` takes back. Cases,
compensations and messages come out as their rows, for finance and for other tools.

Each kind has one time column that `since` / `until` filter on (inclusive / exclusive) and one
column that `types` filter on: events by type, cases by category, compensations by kind,
messages by template.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from makegood.adapters.sql import schema as t

YIELD_PER = 2000


@dataclass(frozen=True)
class ExportKind:
    table: sa.Table
    time_column: str
    type_column: str
    leave_out: frozenset[str] = frozenset({"key"})  # internal natural keys

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.table.columns if c.name not in self.leave_out)


KINDS: dict[str, ExportKind] = {
    # the envelope only: `received_at`, the place in the log (`seq`) and the partition (issue
    # 13) are this store's
    "events": ExportKind(
        t.events, "occurred_at", "type", frozenset({"received_at", "seq", "partition"})
    ),
    "cases": ExportKind(t.cases, "opened_at", "category"),
    "compensations": ExportKind(t.compensations, "created_at", "kind"),
    "messages": ExportKind(t.outbox, "created_at", "template"),
}


def export_rows(
    c: sa.Connection,
    kind: str,
    since: datetime | None = None,
    until: datetime | None = None,
    types: Collection[str] = (),
) -> Iterator[dict[str, Any]]:
    """The rows of `kind` in time order, fetched in chunks (a server-side cursor on
    PostgreSQL). Events leave out an absent subject, as the envelope does."""
    spec = KINDS[kind]
    table = spec.table
    time = table.c[spec.time_column]
    statement = sa.select(*(table.c[name] for name in spec.columns)).order_by(time, table.c.id)
    if since is not None:
        statement = statement.where(time >= since)
    if until is not None:
        statement = statement.where(time < until)
    if types:
        statement = statement.where(table.c[spec.type_column].in_(sorted(types)))
    result = c.execution_options(yield_per=YIELD_PER).execute(statement)
    for row in result:
        item = dict(row._mapping)
        if kind == "events" and item["subject_id"] is None:
            del item["subject_id"]
        yield item


def attribute_keys(
    c: sa.Connection,
    since: datetime | None = None,
    until: datetime | None = None,
    types: Collection[str] = (),
) -> list[str]:
    """Every attribute name the selected events carry (a CSV export's columns)."""
    keys: set[str] = set()
    for row in export_rows(c, "events", since, until, types):
        keys.update(row["attributes"])
    return sorted(keys)
