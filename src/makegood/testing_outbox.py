"""An in-memory `OutboxStore` for tests (yours too). Thread-safe; to be folded into testing.py."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from makegood.domain.errors import NotFound
from makegood.domain.message import DEAD, PENDING, SENT, OutboxMessage


@dataclass(frozen=True, slots=True)
class Attempt:
    """One finished try, as the store recorded it."""

    message_id: str
    at: datetime
    ok: bool
    detail: str


class InMemoryOutbox:
    """The outbox in a dict. `claim` leases like the SQL stores: due = pending and
    ``next_attempt_at`` unset or not after `now`; claiming moves ``next_attempt_at`` to
    the lease's end. `mark_sent` and `mark_failed` each count one attempt."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: dict[str, OutboxMessage] = {}
        self._keys: dict[str, str] = {}
        self.history: list[Attempt] = []

    def add(self, message: OutboxMessage) -> bool:
        """Store a copy of `message`; False (and nothing stored) if its key is already known."""
        with self._lock:
            if message.key in self._keys or message.id in self._messages:
                return False
            self._keys[message.key] = message.id
            self._messages[message.id] = replace(message)
            return True

    def get(self, message_id: str) -> OutboxMessage:
        with self._lock:
            try:
                return replace(self._messages[message_id])
            except KeyError:
                raise NotFound(f"no outbox message {message_id!r}") from None

    def all(self, status: str | None = None) -> list[OutboxMessage]:
        with self._lock:
            return [
                replace(m) for m in self._messages.values() if status is None or m.status == status
            ]

    def claim(self, now: datetime, lease_until: datetime, limit: int) -> Sequence[OutboxMessage]:
        with self._lock:
            due = [
                m
                for m in self._messages.values()
                if m.status == PENDING and (m.next_attempt_at is None or m.next_attempt_at <= now)
            ]
            due.sort(key=lambda m: (m.next_attempt_at or now, m.created_at or now, m.id))
            claimed = due[: max(limit, 0)]
            for m in claimed:
                m.next_attempt_at = lease_until
            return [replace(m) for m in claimed]

    def renew(
        self, message_ids: Sequence[str], held_until: datetime, lease_until: datetime
    ) -> set[str]:
        held: set[str] = set()
        with self._lock:
            for message_id in message_ids:
                m = self._messages.get(message_id)
                if m is not None and m.status == PENDING and m.next_attempt_at == held_until:
                    m.next_attempt_at = lease_until
                    held.add(message_id)
        return held

    def mark_sent(self, message_id: str, at: datetime, detail: str) -> None:
        with self._lock:
            m = self._find(message_id)
            m.status = SENT
            m.sent_at = at
            m.attempts += 1
            m.last_error = None
            m.next_attempt_at = None
            self.history.append(Attempt(message_id, at, True, detail))

    def mark_failed(
        self, message_id: str, at: datetime, error: str, retry_at: datetime | None
    ) -> None:
        with self._lock:
            m = self._find(message_id)
            m.attempts += 1
            m.last_error = error
            m.next_attempt_at = retry_at
            if retry_at is None:
                m.status = DEAD
            self.history.append(Attempt(message_id, at, False, error))

    def _find(self, message_id: str) -> OutboxMessage:
        try:
            return self._messages[message_id]
        except KeyError:
            raise NotFound(f"no outbox message {message_id!r}") from None
