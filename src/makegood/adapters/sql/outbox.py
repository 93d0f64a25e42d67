"""The outbox as the dispatcher sees it (`OutboxStore`): claim with a lease, renew the lease
while sending, mark each message sent or failed in its own short transaction, and log each
delivery on the case's timeline. On PostgreSQL claims are ``FOR UPDATE SKIP LOCKED``, so two
dispatchers never hold one message; on SQLite a claim is one writer's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from makegood.adapters.sql import rows
from makegood.adapters.sql import schema as t
from makegood.domain.message import DEAD, PENDING, SENT, OutboxMessage

CHUNK = 900  # stay below SQLite's limit of bound parameters per statement


def claim(
    c: sa.Connection, now: datetime, lease_until: datetime, limit: int
) -> list[OutboxMessage]:
    """Due pending messages, oldest first, their ``next_attempt_at`` moved to `lease_until`."""
    query = (
        sa.select(t.outbox)
        .where(t.outbox.c.status == PENDING, t.outbox.c.next_attempt_at <= now)
        .order_by(t.outbox.c.next_attempt_at, t.outbox.c.id)
        .limit(limit)
    )
    if c.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    claimed = [rows.outbox_of(r) for r in c.execute(query)]
    if claimed:
        c.execute(
            sa.update(t.outbox)
            .where(t.outbox.c.id.in_([m.id for m in claimed]))
            .values(next_attempt_at=lease_until)
        )
    return claimed


class SqlOutbox:
    """`OutboxStore` on the SQL store; each call is its own transaction."""

    writer: sa.Engine
    _claimed: dict[str, tuple[str | None, str, int]]

    def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[OutboxMessage]:
        with self.writer.begin() as c:
            claimed = claim(c, now, lease_until, limit)
        for message in claimed:  # remembered so that marking needs no second look-up
            self._claimed[message.id] = (message.case_id, message.template, message.attempts)
        return claimed

    def renew(
        self, message_ids: Sequence[str], held_until: datetime, lease_until: datetime
    ) -> set[str]:
        held: set[str] = set()
        with self.writer.begin() as c:
            for start in range(0, len(message_ids), CHUNK):
                part = list(message_ids[start : start + CHUNK])
                query = sa.select(t.outbox.c.id).where(
                    t.outbox.c.id.in_(part),
                    t.outbox.c.status == PENDING,
                    t.outbox.c.next_attempt_at == held_until,
                )
                if c.dialect.name == "postgresql":
                    query = query.with_for_update()
                mine = list(c.scalars(query))
                if mine:
                    c.execute(
                        sa.update(t.outbox)
                        .where(t.outbox.c.id.in_(mine))
                        .values(next_attempt_at=lease_until)
                    )
                held.update(mine)
        return held

    def mark_sent(self, message_id: str, at: datetime, detail: str) -> None:
        with self.writer.begin() as c:
            c.execute(_MARK_SENT, {"message_id": message_id, "sent": at})
            self._log_delivery(c, message_id, at, "message_sent", {"detail": detail[:500]})

    def mark_failed(
        self, message_id: str, at: datetime, error: str, retry_at: datetime | None
    ) -> None:
        with self.writer.begin() as c:
            if retry_at is None:
                c.execute(_MARK_DEAD, {"message_id": message_id, "error": error[:2000]})
            else:
                c.execute(
                    _MARK_RETRY,
                    {"message_id": message_id, "error": error[:2000], "retry": retry_at},
                )
            kind = "message_dead" if retry_at is None else "message_retry"
            self._log_delivery(c, message_id, at, kind, {"error": error[:500]})

    def _log_delivery(
        self, c: sa.Connection, message_id: str, at: datetime, kind: str, data: dict[str, Any]
    ) -> None:
        known = self._claimed.pop(message_id, None)
        if known is None:
            row = c.execute(
                sa.select(t.outbox.c.case_id, t.outbox.c.template, t.outbox.c.attempts).where(
                    t.outbox.c.id == message_id
                )
            ).first()
            known = (row.case_id, row.template, row.attempts - 1) if row else None
        if known is not None and known[0]:
            case_id, template, attempts = known
            c.execute(
                _TIMELINE,
                {
                    "case_id": case_id,
                    "at": at,
                    "kind": kind,
                    "actor": "dispatcher",
                    "data": {
                        "message": message_id,
                        "template": template,
                        "attempt": attempts + 1,
                        **data,
                    },
                },
            )


_OUTBOX_ID = t.outbox.c.id == sa.bindparam("message_id")
_MARK_SENT = (
    sa.update(t.outbox)
    .where(_OUTBOX_ID)
    .values(
        status=SENT, sent_at=sa.bindparam("sent"), attempts=t.outbox.c.attempts + 1, last_error=None
    )
)
_MARK_DEAD = (
    sa.update(t.outbox)
    .where(_OUTBOX_ID)
    .values(status=DEAD, attempts=t.outbox.c.attempts + 1, last_error=sa.bindparam("error"))
)
_MARK_RETRY = (
    sa.update(t.outbox)
    .where(_OUTBOX_ID)
    .values(
        attempts=t.outbox.c.attempts + 1,
        last_error=sa.bindparam("error"),
        next_attempt_at=sa.bindparam("retry"),
    )
)
_TIMELINE = sa.insert(t.timeline)
