"""Fakes for tests, yours too: a frozen clock, an in-memory store, a counting code generator.

`InMemoryStore` passes the same contract tests as the SQL stores (tests/contract): a session's
writes become visible only when the block ends without an exception.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from makegood.domain.errors import AlreadyDone, BudgetConflict
from makegood.domain.event import Event, Quarantined
from makegood.domain.fingerprint import fingerprint
from makegood.domain.message import OutboxMessage
from makegood.domain.model import (
    Case,
    Compensation,
    Customer,
    Failure,
    Incident,
    Subject,
    TimelineEntry,
    Timer,
)
from makegood.domain.partition import DEFAULT_PARTITIONS, partition_of, partitions_of
from makegood.domain.policy import Budgets
from makegood.domain.world import (
    Changes,
    Snapshot,
    counts_toward_cap,
    keeps_compensation,
    keeps_failure,
)
from makegood.testing_outbox import InMemoryOutbox

__all__ = ["FrozenClock", "InMemoryOutbox", "InMemoryStore", "counting_codes"]


class FrozenClock:
    """A clock that moves only when told to."""

    def __init__(self, now: datetime | None = None) -> None:
        self._now = now or datetime(2026, 11, 2, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, now: datetime) -> None:
        self._now = now

    def advance(self, delta: timedelta) -> None:
        self._now += delta


def counting_codes(prefix: str = "TEST", start: int = 1) -> Any:
    """Voucher codes as a counter: the same decisions draw the same codes."""
    counter = itertools.count(start)
    return lambda: f"{prefix}-{next(counter):06d}"


@dataclass
class _State:
    events: dict[str, Event] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)  # event ids; place n (seq) is log[n - 1]
    quarantine: list[Quarantined] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)
    timers: dict[str, Timer] = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)
    subjects: dict[str, Subject] = field(default_factory=dict)
    cases: dict[str, Case] = field(default_factory=dict)
    failures: dict[str, Failure] = field(default_factory=dict)
    compensations: dict[str, Compensation] = field(default_factory=dict)
    timeline: list[TimelineEntry] = field(default_factory=list)
    outbox: dict[str, OutboxMessage] = field(default_factory=dict)  # by key
    spend: dict[date, Decimal] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    versions: dict[int, int] = field(
        default_factory=lambda: dict.fromkeys(range(DEFAULT_PARTITIONS), 0)
    )
    places: dict[int, int] = field(default_factory=dict)  # partition -> place in the log
    marks: dict[int, tuple[datetime, int]] = field(default_factory=dict)  # time, followed to


class InMemorySession:
    def __init__(self, state: _State) -> None:
        self.state = state

    def known_event_ids(self, ids: Collection[str]) -> set[str]:
        return {i for i in ids if i in self.state.events}

    def add_events(self, events: Sequence[Event], received_at: datetime) -> dict[str, int]:
        new = {}
        for event in events:
            if event.id not in self.state.events:
                self.state.events[event.id] = event
                self.state.log.append(event.id)
                new[event.id] = len(self.state.log)
        return new

    def logged(
        self, after: int, limit: int, partitions: Mapping[int, int] | None = None
    ) -> list[tuple[int, Event]]:
        found: list[tuple[int, Event]] = []
        count = len(self.state.versions)
        for i, event_id in enumerate(self.state.log[after:]):
            if len(found) == limit:
                break
            seq, event = after + 1 + i, self.state.events[event_id]
            p = partition_of(event.customer_id, count)
            if partitions is None or (p in partitions and seq > partitions[p]):
                found.append((seq, event))
        return found

    def places(self, partitions: Collection[int]) -> dict[int, int]:
        return {p: self.state.places.get(p, 0) for p in partitions}

    def set_places(self, places: Mapping[int, int]) -> None:
        self.state.places.update(places)

    def marks(self, partitions: Collection[int]) -> dict[int, tuple[datetime | None, int]]:
        return {p: self.state.marks.get(p, (None, 0)) for p in partitions}

    def set_marks(self, marks: Mapping[int, tuple[datetime, int]]) -> None:
        self.state.marks.update(marks)

    def log_times(self, after: int, limit: int) -> list[tuple[int, datetime]]:
        return [
            (after + 1 + i, self.state.events[event_id].occurred_at)
            for i, event_id in enumerate(self.state.log[after : after + limit])
        ]

    def event_fingerprints(self, ids: Collection[str]) -> dict[str, str]:
        return {i: fingerprint(self.state.events[i]) for i in ids if i in self.state.events}

    def add_quarantined(self, items: Sequence[Quarantined], received_at: datetime) -> None:
        self.state.quarantine.extend(items)

    def get_value(self, name: str, lock: bool = False) -> str | None:
        return self.state.values.get(name)

    def set_value(self, name: str, value: str) -> None:
        self.state.values[name] = value

    def partitions(self) -> int:
        return len(self.state.versions)

    def lock_partitions(self, partitions: Collection[int]) -> dict[int, int]:
        return {p: self.state.versions[p] for p in partitions}

    def known_subjects(self, ids: Collection[str]) -> set[str]:
        return {i for i in ids if i in self.state.subjects}

    def advance_partitions(self, versions: Mapping[int, int]) -> bool:
        if any(self.state.versions[p] != v for p, v in versions.items()):
            return False
        for p in versions:
            self.state.versions[p] += 1
        return True

    def incident(self, incident_id: str) -> Incident | None:
        return copy.deepcopy(self.state.incidents.get(incident_id))

    def open_subjects(self, attribute: str, value: str) -> list[tuple[str, str]]:
        return [
            (s.customer_id, s.id)
            for s in self.state.subjects.values()
            if str(s.attributes.get(attribute)) == value
            and not ({"order.delivered", "order.cancelled"} & set(s.seen))
        ]

    def next_timer_due(self) -> datetime | None:
        return min((t.due_at for t in self.state.timers.values()), default=None)

    def due_timers(self, until: datetime, limit: int) -> list[Timer]:
        due = sorted(
            (t for t in self.state.timers.values() if t.due_at <= until),
            key=lambda t: (t.due_at, t.key),
        )
        return copy.deepcopy(due[:limit])

    def load(
        self,
        customer_ids: Collection[str],
        subject_ids: Collection[str],
        case_ids: Collection[str],
        since: datetime,
        days: Collection[date],
    ) -> Snapshot:
        s = self.state
        customers = set(customer_ids) | {s.cases[c].customer_id for c in case_ids if c in s.cases}
        cases = {k: v for k, v in s.cases.items() if v.customer_id in customers}
        subjects = set(subject_ids) | {c.subject_key for c in cases.values() if c.subject_key}
        messages: dict[tuple[str, date], int] = {}
        for message in s.outbox.values():
            if message.created_at is None:
                continue
            day = message.created_at.date()
            if message.customer_id in customers and day in days and counts_toward_cap(message):
                messages[(message.customer_id, day)] = (
                    messages.get((message.customer_id, day), 0) + 1
                )
        touched = set(subject_ids) | {s.cases[c].subject_key for c in case_ids if c in s.cases}
        failures = {
            k: v
            for k, v in s.failures.items()
            if v.customer_id in customers and keeps_failure(v, since, touched)
        }
        return copy.deepcopy(
            Snapshot(
                customers={k: v for k, v in s.customers.items() if k in customers},
                subjects={k: v for k, v in s.subjects.items() if k in subjects},
                cases=cases,
                failures=failures,
                compensations={
                    k: v
                    for k, v in s.compensations.items()
                    if v.customer_id in customers and keeps_compensation(v, since, failures)
                },
                global_spent={d: v for d, v in s.spend.items() if d in days},
                incidents={
                    k: v
                    for k, v in s.incidents.items()
                    if v.status == "open"
                    or (v.status == "forming" and v.last_at > since)
                    or (v.resolved_at is not None and v.resolved_at > since)
                    or k in case_ids
                },
                messages_per_day=messages,
                message_keys=_keys_by_customer(s.outbox.values(), customers),
            )
        )

    def save(self, changes: Changes, snapshot: Snapshot, budgets: Budgets) -> None:
        s = self.state
        for p in partitions_of(changes.customers_written(snapshot), len(s.versions)):
            s.versions[p] += 1
        taken: set[str] = set()
        if changes.created:
            taken = {f.key for f in s.failures.values()} | {c.key for c in s.compensations.values()}
        for i in sorted(changes.created):
            made = snapshot.failures.get(i) or snapshot.compensations.get(i)
            if i in s.failures or i in s.compensations or (made and made.key in taken):
                raise AlreadyDone(f"{i} exists already; retry the batch")
        for day, amount in changes.global_spend.items():
            if s.spend.get(day, Decimal(0)) + amount > budgets.global_per_day:
                raise BudgetConflict(f"the global budget for {day} moved")
            s.spend[day] = s.spend.get(day, Decimal(0)) + amount
        tables: tuple[tuple[set[str], dict[str, Any], dict[str, Any]], ...] = (
            (changes.customers, snapshot.customers, s.customers),
            (changes.subjects, snapshot.subjects, s.subjects),
            (changes.cases, snapshot.cases, s.cases),
            (changes.failures, snapshot.failures, s.failures),
            (changes.compensations, snapshot.compensations, s.compensations),
            (changes.incidents, snapshot.incidents, s.incidents),
        )
        for ids, source, target in tables:
            for i in sorted(ids):
                target[i] = copy.deepcopy(source[i])
        s.timeline.extend(copy.deepcopy(changes.timeline))
        for message in changes.outbox:
            s.outbox.setdefault(message.key, copy.deepcopy(message))
        for key in changes.timers_done:
            s.timers.pop(key, None)
        s.timers.update(copy.deepcopy(changes.timers))


def _keys_by_customer(
    messages: Iterable[OutboxMessage], customers: Collection[str]
) -> dict[str, set[str]]:
    keys: dict[str, set[str]] = {}
    for message in messages:
        if message.customer_id in customers:
            keys.setdefault(message.customer_id, set()).add(message.key)
    return keys


class InMemoryStore:
    def __init__(self) -> None:
        self.state = _State()

    def profile_locales(self, customer_ids: Collection[str]) -> dict[str, str]:
        customers = self.state.customers
        return {i: customers[i].locale for i in customer_ids if i in customers}

    @contextmanager
    def session(self) -> Iterator[InMemorySession]:
        staged = copy.deepcopy(self.state)
        yield InMemorySession(staged)
        self.state = staged

    @contextmanager
    def reader(self) -> Iterator[InMemorySession]:
        yield InMemorySession(copy.deepcopy(self.state))  # never committed
