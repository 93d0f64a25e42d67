"""The slice of state one batch needs, keyed by customer, and the changes made to it.

A store loads a `Snapshot` for the customers of a batch (and of the timers coming due), the
domain reads and changes it through `World`, and the store writes `World.changes` back in the
same transaction. Nothing here touches a database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from makegood.domain.message import ACTION, OutboxMessage
from makegood.domain.model import (
    GRANTED,
    PENDING,
    Case,
    Compensation,
    Customer,
    Failure,
    Incident,
    Subject,
    TimelineEntry,
    Timer,
)


@dataclass
class Snapshot:
    customers: dict[str, Customer] = field(default_factory=dict)
    subjects: dict[str, Subject] = field(default_factory=dict)
    cases: dict[str, Case] = field(default_factory=dict)
    failures: dict[str, Failure] = field(default_factory=dict)
    compensations: dict[str, Compensation] = field(default_factory=dict)
    global_spent: dict[date, Decimal] = field(default_factory=dict)
    messages_per_day: dict[tuple[str, date], int] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)  # forming and open ones
    # the keys of every message queued to these customers: a message is queued once
    message_keys: dict[str, set[str]] = field(default_factory=dict)


def counts_toward_cap(message: OutboxMessage) -> bool:
    """Whether a message counts against the customer's daily cap: every message to the
    customer does; calls to the business's own systems (the `action` channel) never do."""
    return message.channel != ACTION


class FailureDates(Protocol):
    """What `keeps_failure` reads: a `Failure`, or a store's row of one."""

    @property
    def detected_at(self) -> datetime: ...
    @property
    def resolved_at(self) -> datetime | None: ...
    @property
    def subject_id(self) -> str | None: ...


class CompensationDates(Protocol):
    """What `keeps_compensation` reads: a `Compensation`, or a store's row of one."""

    @property
    def created_at(self) -> datetime: ...
    @property
    def status(self) -> str: ...
    @property
    def failure_id(self) -> str: ...


def keeps_failure(failure: FailureDates, since: datetime, subject_ids: Collection[str]) -> bool:
    """Whether a store's `load` brings this failure of a loaded customer: recent, still open, or
    of a subject the batch touches whatever its age (its key must be found, never re-created)."""
    return (
        failure.detected_at > since
        or failure.resolved_at is None
        or (failure.subject_id is not None and failure.subject_id in subject_ids)
    )


def keeps_compensation(
    compensation: CompensationDates, since: datetime, failure_ids: Collection[str]
) -> bool:
    """Whether `load` brings this compensation of a loaded customer: recent, pending, or owed
    to a loaded failure whatever its age (its key must be found, never granted twice)."""
    return (
        compensation.created_at > since
        or compensation.status == PENDING
        or compensation.failure_id in failure_ids
    )


@dataclass
class Changes:
    customers: set[str] = field(default_factory=set)
    subjects: set[str] = field(default_factory=set)
    cases: set[str] = field(default_factory=set)
    failures: set[str] = field(default_factory=set)
    compensations: set[str] = field(default_factory=set)
    timeline: list[TimelineEntry] = field(default_factory=list)
    outbox: list[OutboxMessage] = field(default_factory=list)
    timers: dict[str, Timer] = field(default_factory=dict)  # armed in this batch
    timers_done: set[str] = field(default_factory=set)  # fired or cancelled
    global_spend: dict[date, Decimal] = field(default_factory=dict)  # increments
    incidents: set[str] = field(default_factory=set)
    # created in this batch (a subset of `failures` and `compensations`): a store inserts these
    # only if their natural key is new, and answers `AlreadyDone` if one was taken meanwhile
    created: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return any(vars(self).values())

    def customers_written(self, snapshot: Snapshot) -> set[str]:
        """Whose state these changes write: the partitions a store moves the version of."""
        s = snapshot
        written = set(self.customers)
        written.update(s.subjects[i].customer_id for i in self.subjects if i in s.subjects)
        written.update(s.cases[i].customer_id for i in self.cases if i in s.cases)
        written.update(s.failures[i].customer_id for i in self.failures if i in s.failures)
        written.update(
            s.compensations[i].customer_id for i in self.compensations if i in s.compensations
        )
        written.update(m.customer_id for m in self.outbox)
        written.update(t.customer_id for t in self.timers.values())
        written.discard("")
        return written


def _drop(index: dict[str, list[Any]], key: str, item: object) -> None:
    kept = [x for x in index.get(key, ()) if x is not item]
    if kept:
        index[key] = kept
    else:
        index.pop(key, None)


class World:
    def __init__(self, snapshot: Snapshot) -> None:
        self.s = snapshot
        self.changes = Changes()
        self._case_by_key = {(c.customer_id, c.subject_key): c for c in snapshot.cases.values()}
        self._cases_by_customer: dict[str, list[Case]] = defaultdict(list)
        for case in snapshot.cases.values():
            self._cases_by_customer[case.customer_id].append(case)
        self._failures_by_case: dict[str, list[Failure]] = defaultdict(list)
        self._failures_by_customer: dict[str, list[Failure]] = defaultdict(list)
        self._failures_by_key = {f.key: f for f in snapshot.failures.values()}
        for failure in snapshot.failures.values():
            self._failures_by_case[failure.case_id].append(failure)
            self._failures_by_customer[failure.customer_id].append(failure)
        self._comp_by_key = {c.key: c for c in snapshot.compensations.values()}
        self._comps_by_customer: dict[str, list[Compensation]] = defaultdict(list)
        self._comps_by_case: dict[str, list[Compensation]] = defaultdict(list)
        for compensation in snapshot.compensations.values():
            self._index_compensation(compensation)
        self._subjects_by_customer: dict[str, set[str]] = defaultdict(set)
        for subject in snapshot.subjects.values():
            self._subjects_by_customer[subject.customer_id].add(subject.id)
        self.new_failures = 0
        self.armed: list[Timer] = []  # every timer armed, in order: the engine schedules them
        self.outbox_mark = 0  # where this batch's messages start in `changes.outbox`
        self.done: list[str] = []  # every timer key fired or cancelled, in order

    def begin(self) -> None:
        """Start a new batch on state kept from the last ones. `changes` holds what earlier
        batches decided and no store has written yet (written behind): they go on gathering
        until `written`, so what several batches changed is written once."""
        self.new_failures = 0
        self.armed = []
        self.done = []
        self.outbox_mark = len(self.changes.outbox)

    def batch_outbox(self) -> list[OutboxMessage]:
        """The messages queued since `begin`."""
        return self.changes.outbox[self.outbox_mark :]

    def written(self) -> None:
        """A store wrote `changes`: nothing is pending any more."""
        self.changes = Changes()
        self.outbox_mark = 0

    def refresh(self, fresh: Snapshot) -> None:
        """Take the state no partition owns from a fresh read: the global spend and the live
        incidents, which other writers change between batches, as they will be once what is
        pending here is written (the spend added, the incidents changed here kept)."""
        mine = {i: self.s.incidents[i] for i in self.changes.incidents if i in self.s.incidents}
        self.s.global_spent = dict(fresh.global_spent)
        for day, amount in self.changes.global_spend.items():
            self.s.global_spent[day] = self.s.global_spent.get(day, Decimal(0)) + amount
        self.s.incidents = dict(fresh.incidents)
        self.s.incidents.update(mine)

    def evict(self, customer_ids: Collection[str]) -> set[str]:
        """Forget these customers' state (kept state that went stale or cold); answers the
        subjects dropped with them. Only between batches."""
        gone = set(customer_ids)
        if not gone:
            return set()
        s = self.s
        for customer_id in gone:
            s.customers.pop(customer_id, None)
            for case in self._cases_by_customer.pop(customer_id, ()):
                s.cases.pop(case.id, None)
                self._case_by_key.pop((case.customer_id, case.subject_key), None)
            for failure in self._failures_by_customer.pop(customer_id, ()):
                s.failures.pop(failure.id, None)
                self._failures_by_key.pop(failure.key, None)
                _drop(self._failures_by_case, failure.case_id, failure)
            for compensation in self._comps_by_customer.pop(customer_id, ()):
                s.compensations.pop(compensation.id, None)
                self._comp_by_key.pop(compensation.key, None)
                _drop(self._comps_by_case, compensation.case_id, compensation)
        subjects: set[str] = set()
        for customer_id in gone:  # an index, not a scan: a cold customer is evicted per flush
            subjects |= self._subjects_by_customer.pop(customer_id, set())
        for subject_id in subjects:
            s.subjects.pop(subject_id, None)
        if s.messages_per_day:
            for customer_day in [k for k in s.messages_per_day if k[0] in gone]:
                del s.messages_per_day[customer_day]
        for customer_id in gone:
            s.message_keys.pop(customer_id, None)
        return subjects

    def trim(self, since: datetime) -> set[str]:
        """Forget the history a store's `load` would not bring back for a batch starting after
        `since` (resolved failures detected before it, their settled compensations, subjects
        no case names, message counts of earlier days), so a customer kept for long holds what
        a customer loaded today holds; answers the subjects whose state is no longer all here
        (a batch touching one loads it again). Only between batches, with nothing pending."""
        s = self.s
        forgotten = {
            f.subject_id
            for f in s.failures.values()
            if f.subject_id is not None and not keeps_failure(f, since, ())
        }
        s.failures = {i: f for i, f in s.failures.items() if keeps_failure(f, since, ())}
        s.compensations = {
            i: c for i, c in s.compensations.items() if keeps_compensation(c, since, s.failures)
        }
        named = {c.subject_key for c in s.cases.values()}
        forgotten |= {i for i in s.subjects if i not in named}
        s.subjects = {i: x for i, x in s.subjects.items() if i in named}
        self._subjects_by_customer = defaultdict(set)
        for subject in s.subjects.values():
            self._subjects_by_customer[subject.customer_id].add(subject.id)
        day = since.date()
        s.messages_per_day = {k: n for k, n in s.messages_per_day.items() if k[1] >= day}
        self._failures_by_case = defaultdict(list)
        self._failures_by_customer = defaultdict(list)
        self._failures_by_key = {f.key: f for f in s.failures.values()}
        for failure in s.failures.values():
            self._failures_by_case[failure.case_id].append(failure)
            self._failures_by_customer[failure.customer_id].append(failure)
        self._comp_by_key = {}
        self._comps_by_customer = defaultdict(list)
        self._comps_by_case = defaultdict(list)
        for compensation in s.compensations.values():
            self._index_compensation(compensation)
        return forgotten

    def shed(self, closing: Collection[str]) -> set[str]:
        """Forget the subjects no case names that one of the `closing` event types closed (a
        delivered or cancelled order): a store's `load` would not bring them, and an event
        about one is rare, so what they hold is the kept state's cheapest to give up; answers
        them (a batch touching one loads its customer again, as after `trim`). Only between
        batches, with nothing pending."""
        s = self.s
        named = {c.subject_key for c in s.cases.values()}
        gone = {
            i
            for i, x in s.subjects.items()
            if i not in named and not x.seen.keys().isdisjoint(closing)
        }
        for subject_id in gone:
            subject = s.subjects.pop(subject_id)
            owned = self._subjects_by_customer.get(subject.customer_id)
            if owned is not None:
                owned.discard(subject_id)
                if not owned:
                    del self._subjects_by_customer[subject.customer_id]
        return gone

    def merge(self, extra: Snapshot) -> None:
        """Add state loaded later in the batch; what is already here (maybe changed) wins."""
        s = self.s
        pairs: tuple[tuple[dict[str, Any], dict[str, Any]], ...] = (
            (s.customers, extra.customers),
            (s.incidents, extra.incidents),
        )
        for mine, theirs in pairs:
            for key, value in theirs.items():
                mine.setdefault(key, value)
        for subject in extra.subjects.values():
            if subject.id not in s.subjects:
                s.subjects[subject.id] = subject
                self._subjects_by_customer[subject.customer_id].add(subject.id)
        for case in extra.cases.values():
            if case.id not in s.cases:
                s.cases[case.id] = case
                self._case_by_key[(case.customer_id, case.subject_key)] = case
                self._cases_by_customer[case.customer_id].append(case)
        for failure in extra.failures.values():
            if failure.id not in s.failures:
                s.failures[failure.id] = failure
                self._failures_by_key[failure.key] = failure
                self._failures_by_case[failure.case_id].append(failure)
                self._failures_by_customer[failure.customer_id].append(failure)
        for compensation in extra.compensations.values():
            if compensation.id not in s.compensations:
                s.compensations[compensation.id] = compensation
                self._index_compensation(compensation)
        for customer_day, count in extra.messages_per_day.items():
            s.messages_per_day.setdefault(customer_day, count)
        for customer_id, keys in extra.message_keys.items():
            s.message_keys.setdefault(customer_id, set()).update(keys)
        for day, spent in extra.global_spent.items():
            s.global_spent.setdefault(day, spent)

    # customers and subjects
    def customer(self, customer_id: str) -> Customer:
        found = self.s.customers.get(customer_id)
        if found is None:
            found = self.s.customers[customer_id] = Customer(customer_id)
            self.changes.customers.add(customer_id)
        return found

    def touch_customer(self, customer: Customer) -> None:
        self.changes.customers.add(customer.id)

    def subject(self, subject_id: str) -> Subject | None:
        return self.s.subjects.get(subject_id)

    def touch_subject(self, subject_id: str, customer_id: str) -> Subject:
        found = self.s.subjects.get(subject_id)
        if found is None:
            found = self.s.subjects[subject_id] = Subject(subject_id, customer_id)
            self._subjects_by_customer[customer_id].add(subject_id)
        self.changes.subjects.add(subject_id)
        return found

    # cases and failures
    def case(self, case_id: str) -> Case | None:
        return self.s.cases.get(case_id)

    def case_for(self, customer_id: str, subject_key: str) -> Case | None:
        return self._case_by_key.get((customer_id, subject_key))

    def cases_of(self, customer_id: str) -> list[Case]:
        return [c for c in self._cases_by_customer.get(customer_id, ())]

    def add_case(self, case: Case) -> None:
        self.s.cases[case.id] = case
        self._case_by_key[(case.customer_id, case.subject_key)] = case
        self._cases_by_customer[case.customer_id].append(case)
        self.changes.cases.add(case.id)

    def touch_case(self, case: Case, at: datetime) -> None:
        case.updated_at = max(case.updated_at, at)
        self.changes.cases.add(case.id)

    def failure_by_key(self, key: str) -> Failure | None:
        return self._failures_by_key.get(key)

    def failures_of(self, case_id: str) -> list[Failure]:
        return self._failures_by_case.get(case_id, [])

    def failures_of_customer(self, customer_id: str) -> list[Failure]:
        return self._failures_by_customer.get(customer_id, [])

    def add_failure(self, failure: Failure) -> None:
        self.s.failures[failure.id] = failure
        self.new_failures += 1
        self._failures_by_key[failure.key] = failure
        self._failures_by_case[failure.case_id].append(failure)
        self._failures_by_customer[failure.customer_id].append(failure)
        self.changes.failures.add(failure.id)
        self.changes.created.add(failure.id)

    def touch_failure(self, failure: Failure) -> None:
        self.changes.failures.add(failure.id)

    def log(self, entry: TimelineEntry) -> None:
        self.changes.timeline.append(entry)

    # incidents
    def incident(self, incident_id: str) -> Incident | None:
        return self.s.incidents.get(incident_id)

    def live_incident(self, spec: str, key: str) -> Incident | None:
        """The forming or open incident of this spec and key, if there is one."""
        return next(
            (
                i
                for i in self.s.incidents.values()
                if i.spec == spec and i.key == key and i.status != "resolved"
            ),
            None,
        )

    def resolved_since(self, spec: str, key: str, since: datetime) -> Incident | None:
        """An incident of this spec and key resolved after `since` (for a cool-down)."""
        return next(
            (
                i
                for i in self.s.incidents.values()
                if i.spec == spec
                and i.key == key
                and i.status == "resolved"
                and i.resolved_at is not None
                and i.resolved_at > since
            ),
            None,
        )

    def touch_incident(self, incident: Incident) -> None:
        self.s.incidents[incident.id] = incident
        self.changes.incidents.add(incident.id)

    # timers
    def arm(self, timer: Timer) -> None:
        self.changes.timers[timer.key] = timer
        self.changes.timers_done.discard(timer.key)
        self.armed.append(timer)

    def cancel(self, key: str) -> None:
        self.changes.timers.pop(key, None)
        self.changes.timers_done.add(key)
        self.done.append(key)

    # messages
    def messages_on(self, customer_id: str, day: date) -> int:
        return self.s.messages_per_day.get((customer_id, day), 0)

    def enqueue(self, message: OutboxMessage, day: date) -> None:
        """Queue a message, once: a key already queued (a step decided again) is not queued
        again and does not count toward the daily cap a second time."""
        queued = self.s.message_keys.setdefault(message.customer_id, set())
        if message.key in queued:
            return
        queued.add(message.key)
        self.changes.outbox.append(message)
        if counts_toward_cap(message):
            key = (message.customer_id, day)
            self.s.messages_per_day[key] = self.s.messages_per_day.get(key, 0) + 1

    # compensation and budgets
    def compensation(self, compensation_id: str) -> Compensation | None:
        return self.s.compensations.get(compensation_id)

    def compensation_by_key(self, key: str) -> Compensation | None:
        return self._comp_by_key.get(key)

    def compensations_of(self, customer_id: str) -> list[Compensation]:
        return self._comps_by_customer.get(customer_id, [])

    def compensations_of_case(self, case_id: str) -> list[Compensation]:
        return self._comps_by_case.get(case_id, [])

    def _index_compensation(self, compensation: Compensation) -> None:
        self._comp_by_key[compensation.key] = compensation
        self._comps_by_customer[compensation.customer_id].append(compensation)
        self._comps_by_case[compensation.case_id].append(compensation)

    def granted_to_case(self, case_id: str) -> Decimal:
        return sum(
            (c.amount for c in self.compensations_of_case(case_id) if c.status == GRANTED),
            Decimal(0),
        )

    def granted_to_customer(self, customer_id: str, since: datetime) -> Decimal:
        return sum(
            (
                c.amount
                for c in self.compensations_of(customer_id)
                if c.status == GRANTED and c.decided_at is not None and c.decided_at > since
            ),
            Decimal(0),
        )

    def granted_on(self, day: date) -> Decimal:
        return self.s.global_spent.get(day, Decimal(0))

    def add_compensation(self, compensation: Compensation) -> None:
        self.s.compensations[compensation.id] = compensation
        self._index_compensation(compensation)
        self.changes.compensations.add(compensation.id)
        self.changes.created.add(compensation.id)

    def record_grant(self, compensation: Compensation, day: date) -> None:
        self.changes.compensations.add(compensation.id)
        self.s.global_spent[day] = self.granted_on(day) + compensation.amount
        self.changes.global_spend[day] = (
            self.changes.global_spend.get(day, Decimal(0)) + compensation.amount
        )
