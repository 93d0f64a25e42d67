"""Ports: the interfaces the service layer needs from the outside world, named by role.

Implementations live in `makegood.adapters` (by technology) and `makegood.testing` (fakes).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Protocol

from makegood.domain.event import Event, Quarantined
from makegood.domain.message import Delivery, OutboxMessage, Rendered
from makegood.domain.model import Incident, Timer
from makegood.domain.policy import Budgets
from makegood.domain.world import Changes, Snapshot


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, aware UTC."""
        ...


class Channel(Protocol):
    """Delivers one rendered message. Must not raise for delivery failures: answer a `Delivery`."""

    name: str

    def send(self, message: Rendered) -> Delivery: ...


class Renderer(Protocol):
    """Turns an outbox message (template name + context + locale) into a `Rendered` message."""

    def render(self, message: OutboxMessage) -> Rendered: ...


class OutboxStore(Protocol):
    """The outbox as the dispatcher sees it. Each method is its own short transaction.

    `claim` must hand a message to one dispatcher only (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
    the single writer on SQLite): it moves the claimed rows' ``next_attempt_at`` to ``lease_until``
    so a crashed dispatcher's claim expires and the message is tried again.
    """

    def claim(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> Sequence[OutboxMessage]: ...

    def renew(
        self, message_ids: Sequence[str], held_until: datetime, lease_until: datetime
    ) -> set[str]:
        """Move the lease of the messages this claim still holds (pending, leased until
        `held_until`: the lease is the claim's token) to `lease_until`; returns their ids. A
        message another dispatcher claimed since this lease ran out is not among them."""
        ...

    def mark_sent(self, message_id: str, at: datetime, detail: str) -> None:
        """Record a delivery, in its own short transaction right after the channel accepted."""
        ...

    def mark_failed(
        self, message_id: str, at: datetime, error: str, retry_at: datetime | None
    ) -> None:
        """Record a failed try; ``retry_at=None`` parks the message as dead (dead letter)."""
        ...


class StoreSession(Protocol):
    """One transaction on the store. Everything the engine decides for a batch goes through one."""

    def known_event_ids(self, ids: Collection[str]) -> set[str]: ...

    def add_events(self, events: Sequence[Event], received_at: datetime) -> dict[str, int]:
        """Append the events whose id is new to the log; answer those ids with their places in
        it (`seq`: 1, 2, … in the order given, after what is there). The append is the one point
        of truth for "act on this event once": appends take turns, so a second transaction
        appending the same id waits for this one and then finds the id taken, and places are
        never committed out of order."""
        ...

    def logged(
        self, after: int, limit: int, partitions: Mapping[int, int] | None = None
    ) -> list[tuple[int, Event]]:
        """The log after place `after`, in order: (seq, event) with the attributes as
        stored (JSON); with `partitions` (partition: place), only those partitions' events,
        each after its own place."""
        ...

    def places(self, partitions: Collection[int]) -> dict[int, int]:
        """The place in the log acted on for each of these partitions; in a writing
        transaction held to its end and, for a lease holder, checked against the epochs it
        was granted (`Fenced`)."""
        ...

    def set_places(self, places: Mapping[int, int]) -> None:
        """Move these partitions' places in the log (with the batch that reached them)."""
        ...

    def marks(self, partitions: Collection[int]) -> dict[int, tuple[datetime | None, int]]:
        """Each partition's time in event time (None: never set) and the place in the whole
        log that time follows up to (0: never followed; see `Engine.follow_log`)."""
        ...

    def set_marks(self, marks: Mapping[int, tuple[datetime, int]]) -> None:
        """Move these partitions' times and the places they follow up to (with the batch)."""
        ...

    def log_times(self, after: int, limit: int) -> list[tuple[int, datetime]]:
        """(seq, occurred_at) of every event of the log after place `after`, in order, at most
        `limit` (the times a partition with nothing new follows)."""
        ...

    def event_fingerprints(self, ids: Collection[str]) -> dict[str, str]:
        """`makegood.domain.fingerprint` of the stored events with these ids."""
        ...

    def add_quarantined(self, items: Sequence[Quarantined], received_at: datetime) -> None: ...

    def get_value(self, name: str, lock: bool = False) -> str | None:
        """A value of the engine's state; `lock`: held until this transaction ends (another
        transaction asking with `lock` waits, then reads what this one committed)."""
        ...

    def set_value(self, name: str, value: str) -> None: ...

    def partitions(self) -> int:
        """P, the number of partitions, fixed when the store was made."""
        ...

    def lock_partitions(self, partitions: Collection[int]) -> dict[int, int]:
        """The versions of these partitions, which no other transaction may move before this
        one ends (on PostgreSQL their rows are locked, in partition order). `save` moves the
        version of every partition whose state it writes."""
        ...

    def advance_partitions(self, versions: Mapping[int, int]) -> bool:
        """Move each of these partitions one version on if it is still at the version given;
        False (and nothing moved that matters: the caller rolls back) if any was not."""
        ...

    def known_subjects(self, ids: Collection[str]) -> set[str]:
        """Those of these subject ids that are stored."""
        ...

    def incident(self, incident_id: str) -> Incident | None: ...

    def open_subjects(self, attribute: str, value: str) -> list[tuple[str, str]]:
        """(customer, subject) of subjects whose `attribute` equals `value` and that neither
        arrived nor were cancelled (the engine's open orders in an area, say)."""
        ...

    def next_timer_due(self) -> datetime | None:
        """When the earliest timer is due, if any."""
        ...

    def due_timers(self, until: datetime, limit: int) -> list[Timer]:
        """Timers due at or before `until`, oldest first; claimed (SKIP LOCKED) where supported."""
        ...

    def load(
        self,
        customer_ids: Collection[str],
        subject_ids: Collection[str],
        case_ids: Collection[str],
        since: datetime,
        days: Collection[date],
    ) -> Snapshot:
        """State of these customers: profiles, subjects, cases, failures and compensations
        since `since` (and all that are still open or pending), spend and message counts on
        `days`."""
        ...

    def save(self, changes: Changes, snapshot: Snapshot, budgets: Budgets) -> None:
        """Write a batch's changes. Raises `BudgetConflict` if the global budget moved."""
        ...


class Store(Protocol):
    def session(self) -> AbstractContextManager[StoreSession]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        ...

    def reader(self) -> AbstractContextManager[StoreSession]:
        """A transaction that only reads (never committed): no write lock, no row locks."""
        ...

    def profile_locales(self, customer_ids: Collection[str]) -> dict[str, str]:
        """The stored profile locale of these customers (those with a profile), read outside
        any write transaction and without locks."""
        ...
