"""Backtests: a history of events run through the engine under a policy, in event time, against
a throwaway store, with nothing sent. `compare` puts two runs side by side.

The default store, `ReplayStore`, keeps the state in memory and hands the engine the live
objects instead of copies: a replay has one writer and never rolls back (budgets are checked
before a grant, so the store's own check cannot fail), which makes copying the state per batch
(what `makegood.testing.InMemoryStore` does) or a database round trip pure overhead. What the
policy decided is recorded as each batch commits, so any `Store` can be used instead.
"""

from __future__ import annotations

import heapq
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import count
from typing import Any, cast

from makegood.domain.errors import AlreadyDone, BudgetConflict
from makegood.domain.event import Event, Quarantined
from makegood.domain.fingerprint import fingerprint
from makegood.domain.message import OutboxMessage
from makegood.domain.model import (
    GRANTED,
    PENDING,
    Case,
    Compensation,
    Failure,
    TimelineEntry,
    Timer,
)
from makegood.domain.partition import DEFAULT_PARTITIONS, partitions_of
from makegood.domain.policy import Budgets
from makegood.domain.rules import CompiledPolicy
from makegood.domain.world import (
    Changes,
    Snapshot,
    counts_toward_cap,
    keeps_compensation,
    keeps_failure,
)
from makegood.service_layer.engine import Analyzer, Engine
from makegood.service_layer.ports import Store, StoreSession

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class _State:
    def __init__(self) -> None:
        self.events: dict[str, str] = {}  # id -> fingerprint
        self.quarantine: list[Quarantined] = []
        self.values: dict[str, str] = {}
        self.timers: dict[str, Timer] = {}
        self.heap: list[tuple[datetime, str, int, Timer]] = []
        self.customers: dict[str, Any] = {}
        self.subjects: dict[str, Any] = {}
        self.cases: dict[str, Case] = {}
        self.cases_of: dict[str, list[str]] = defaultdict(list)
        self.failures: dict[str, Failure] = {}
        self.failures_of: dict[str, list[str]] = defaultdict(list)
        self.compensations: dict[str, Compensation] = {}
        self.compensations_of: dict[str, list[str]] = defaultdict(list)
        self.keys: set[str] = set()  # natural keys of failures and compensations
        self.timeline: list[TimelineEntry] = []
        self.outbox: dict[str, OutboxMessage] = {}  # by key
        self.messages: Counter[tuple[str, date]] = Counter()
        self.message_keys: dict[str, set[str]] = defaultdict(set)
        self.spend: dict[date, Decimal] = {}
        self.incidents: dict[str, Any] = {}
        self.seq = count()
        self.versions = dict.fromkeys(range(DEFAULT_PARTITIONS), 0)


class ReplaySession:
    """Reads see the store as committed plus this session's own writes; writes are applied
    when the session ends without an exception (the objects handed out by `load` are the
    live ones: see the module docstring)."""

    def __init__(self, state: _State) -> None:
        self.s = state
        self.events: dict[str, str] = {}
        self.quarantine: list[Quarantined] = []
        self.values: dict[str, str] = {}
        self.saved: list[tuple[Changes, Snapshot]] = []
        self.spend: dict[date, Decimal] = {}

    def known_event_ids(self, ids: Collection[str]) -> set[str]:
        return {i for i in ids if i in self.s.events or i in self.events}

    def add_events(self, events: Sequence[Event], received_at: datetime) -> dict[str, int]:
        new = {}
        for event in events:
            if event.id not in self.s.events and event.id not in self.events:
                self.events[event.id] = fingerprint(event)
                new[event.id] = len(self.s.events) + len(self.events)
        return new

    def logged(
        self, after: int, limit: int, partitions: Mapping[int, int] | None = None
    ) -> list[tuple[int, Event]]:
        """A replay's one engine acts on what it appended as it appends it (handed over in
        memory): the log itself is not kept, which would hold every event of a history."""
        return []

    def places(self, partitions: Collection[int]) -> dict[int, int]:
        return dict.fromkeys(partitions, 0)  # one engine, no workers: no place per partition

    def set_places(self, places: Mapping[int, int]) -> None:
        return None

    def marks(self, partitions: Collection[int]) -> dict[int, tuple[datetime | None, int]]:
        return dict.fromkeys(partitions, (None, 0))  # one engine: its time is the log's

    def set_marks(self, marks: Mapping[int, tuple[datetime, int]]) -> None:
        return None

    def log_times(self, after: int, limit: int) -> list[tuple[int, datetime]]:
        return []  # the log is not kept (see `logged`)

    def event_fingerprints(self, ids: Collection[str]) -> dict[str, str]:
        known = {**self.s.events, **self.events}
        return {i: known[i] for i in ids if i in known}

    def add_quarantined(self, items: Sequence[Quarantined], received_at: datetime) -> None:
        self.quarantine.extend(items)

    def get_value(self, name: str, lock: bool = False) -> str | None:
        return self.values.get(name, self.s.values.get(name))

    def set_value(self, name: str, value: str) -> None:
        self.values[name] = value

    def partitions(self) -> int:
        return len(self.s.versions)

    def lock_partitions(self, partitions: Collection[int]) -> dict[int, int]:
        return {p: self.s.versions[p] for p in partitions}

    def known_subjects(self, ids: Collection[str]) -> set[str]:
        return {i for i in ids if i in self.s.subjects}

    def advance_partitions(self, versions: Mapping[int, int]) -> bool:
        if any(self.s.versions[p] != v for p, v in versions.items()):
            return False
        for p in versions:
            self.s.versions[p] += 1
        return True

    def incident(self, incident_id: str) -> Any:
        return self.s.incidents.get(incident_id)

    def open_subjects(self, attribute: str, value: str) -> list[tuple[str, str]]:
        return [
            (x.customer_id, x.id)
            for x in self.s.subjects.values()
            if str(x.attributes.get(attribute)) == value
            and not ({"order.delivered", "order.cancelled"} & set(x.seen))
        ]

    def next_timer_due(self) -> datetime | None:
        due = self.due_timers(datetime.max.replace(tzinfo=UTC), 1)
        return due[0].due_at if due else None

    def due_timers(self, until: datetime, limit: int) -> list[Timer]:
        heap, live = self.s.heap, self.s.timers
        due: list[tuple[datetime, str, int, Timer]] = []
        while heap and heap[0][0] <= until and len(due) < limit:
            entry = heapq.heappop(heap)
            if live.get(entry[1]) is entry[3]:
                due.append(entry)
        for entry in due:  # they stay armed until a batch fires or cancels them
            heapq.heappush(heap, entry)
        return [entry[3] for entry in due]

    def load(
        self,
        customer_ids: Collection[str],
        subject_ids: Collection[str],
        case_ids: Collection[str],
        since: datetime,
        days: Collection[date],
    ) -> Snapshot:
        s = self.s
        customers = set(customer_ids) | {s.cases[c].customer_id for c in case_ids if c in s.cases}
        touched = set(subject_ids) | {s.cases[c].subject_key for c in case_ids if c in s.cases}
        snap = Snapshot()
        for customer_id in customers:
            if customer_id in s.customers:
                snap.customers[customer_id] = s.customers[customer_id]
            for case_id in s.cases_of.get(customer_id, ()):
                snap.cases[case_id] = s.cases[case_id]
            for failure_id in s.failures_of.get(customer_id, ()):
                f = s.failures[failure_id]
                if keeps_failure(f, since, touched):
                    snap.failures[failure_id] = f
            for day in days:
                sent = s.messages.get((customer_id, day))
                if sent:
                    snap.messages_per_day[(customer_id, day)] = sent
            if customer_id in s.message_keys:  # a copy: a batch that rolls back adds none
                snap.message_keys[customer_id] = set(s.message_keys[customer_id])
        for customer_id in customers:
            for comp_id in s.compensations_of.get(customer_id, ()):
                c = s.compensations[comp_id]
                if keeps_compensation(c, since, snap.failures):
                    snap.compensations[comp_id] = c
        wanted = set(subject_ids) | {c.subject_key for c in snap.cases.values() if c.subject_key}
        snap.subjects = {i: s.subjects[i] for i in wanted if i in s.subjects}
        snap.global_spent = {d: s.spend[d] for d in days if d in s.spend}
        snap.incidents = {
            k: v
            for k, v in s.incidents.items()
            if v.status == "open"
            or (v.status == "forming" and v.last_at > since)
            or (v.status == "resolved" and v.resolved_at is not None and v.resolved_at > since)
            or k in case_ids
        }
        return snap

    def save(self, changes: Changes, snapshot: Snapshot, budgets: Budgets) -> None:
        for i in changes.created:
            made = snapshot.failures.get(i) or snapshot.compensations.get(i)
            if made is not None and made.key in self.s.keys:
                raise AlreadyDone(f"{i} exists already; retry the batch")
        for day, amount in changes.global_spend.items():
            total = self.s.spend.get(day, Decimal(0)) + self.spend.get(day, Decimal(0)) + amount
            if total > budgets.global_per_day:
                raise BudgetConflict(f"the global budget for {day} moved")
        for day, amount in changes.global_spend.items():
            self.spend[day] = self.spend.get(day, Decimal(0)) + amount
        self.saved.append((changes, snapshot))
        for p in partitions_of(changes.customers_written(snapshot), len(self.s.versions)):
            self.s.versions[p] += 1

    def commit(self) -> None:
        s = self.s
        s.events.update(self.events)
        s.quarantine.extend(self.quarantine)
        s.values.update(self.values)
        for day, amount in self.spend.items():
            s.spend[day] = s.spend.get(day, Decimal(0)) + amount
        for changes, snapshot in self.saved:
            _apply(s, changes, snapshot)


def _apply(s: _State, changes: Changes, snapshot: Snapshot) -> None:
    for i in changes.customers:
        s.customers[i] = snapshot.customers[i]
    for i in changes.subjects:
        s.subjects[i] = snapshot.subjects[i]
    for i in changes.cases:
        if i not in s.cases:
            s.cases_of[snapshot.cases[i].customer_id].append(i)
        s.cases[i] = snapshot.cases[i]
    for i in changes.failures:
        if i not in s.failures:
            s.failures_of[snapshot.failures[i].customer_id].append(i)
        s.failures[i] = snapshot.failures[i]
        s.keys.add(snapshot.failures[i].key)
    for i in changes.compensations:
        if i not in s.compensations:
            s.compensations_of[snapshot.compensations[i].customer_id].append(i)
        s.compensations[i] = snapshot.compensations[i]
        s.keys.add(snapshot.compensations[i].key)
    for i in changes.incidents:
        s.incidents[i] = snapshot.incidents[i]
    s.timeline.extend(changes.timeline)
    for message in changes.outbox:
        if message.key not in s.outbox:
            s.outbox[message.key] = message
            s.message_keys[message.customer_id].add(message.key)
            if counts_toward_cap(message):
                s.messages[(message.customer_id, (message.created_at or EPOCH).date())] += 1
    for key in changes.timers_done:
        s.timers.pop(key, None)
    for key, timer in changes.timers.items():
        s.timers[key] = timer
        heapq.heappush(s.heap, (timer.due_at, key, next(s.seq), timer))


class ReplayStore:
    """A throwaway in-memory store for one replay (one writer; see the module docstring)."""

    def __init__(self) -> None:
        self.state = _State()

    def profile_locales(self, customer_ids: Collection[str]) -> dict[str, str]:
        customers = self.state.customers
        return {i: customers[i].locale for i in customer_ids if i in customers}

    @contextmanager
    def session(self) -> Iterator[ReplaySession]:
        session = ReplaySession(self.state)
        yield session
        session.commit()

    @contextmanager
    def reader(self) -> Iterator[ReplaySession]:
        yield ReplaySession(self.state)  # never committed


@dataclass
class Decisions:
    """What a policy decided over a history: the figures a backtest compares."""

    failures: dict[str, Failure] = field(default_factory=dict)
    cases: dict[str, Case] = field(default_factory=dict)
    compensations: dict[str, Compensation] = field(default_factory=dict)
    messages: Counter[str] = field(default_factory=Counter)  # by template, customer messages
    resolutions: int = 0  # `action`-channel calls to the business's own systems
    escalated: set[str] = field(default_factory=set)  # cases
    suppressed: int = 0
    incidents: dict[str, Any] = field(default_factory=dict)
    keys: set[str] = field(default_factory=set)

    def record(self, changes: Changes, snapshot: Snapshot) -> None:
        for i in changes.failures:
            self.failures[i] = snapshot.failures[i]
        for i in changes.cases:
            self.cases[i] = snapshot.cases[i]
        for i in changes.compensations:
            self.compensations[i] = snapshot.compensations[i]
        for i in changes.incidents:
            self.incidents[i] = snapshot.incidents[i]
        for message in changes.outbox:
            if message.key in self.keys:
                continue
            self.keys.add(message.key)
            if not counts_toward_cap(message):  # a call to the business's own systems
                self.resolutions += 1
            else:
                self.messages[message.template] += 1
        for entry in changes.timeline:
            if entry.kind == "state_changed" and entry.data.get("to") == "escalated":
                self.escalated.add(entry.case_id)
            elif entry.kind == "message_suppressed":
                self.suppressed += 1

    def figures(self) -> dict[str, Any]:
        granted = [c for c in self.compensations.values() if c.status == GRANTED]
        pending = [c for c in self.compensations.values() if c.status == PENDING]
        by = Counter(f"{f.category} / {f.severity}" for f in self.failures.values())
        return {
            "failures": len(self.failures),
            "failures_by_category": dict(
                sorted(Counter(f.category for f in self.failures.values()).items())
            ),
            "failures_by_severity": dict(
                sorted(Counter(f.severity for f in self.failures.values()).items())
            ),
            "failures_by_category_and_severity": dict(sorted(by.items())),
            "cases": len(self.cases),
            "messages": sum(self.messages.values()),
            "messages_by_template": dict(sorted(self.messages.items())),
            "messages_suppressed": self.suppressed,
            "resolution_requests": self.resolutions,
            "compensations_granted": len(granted),
            "spend": sum((c.amount for c in granted), Decimal(0)),
            "approvals_waiting": len(pending),
            "approvals_amount": sum((c.amount for c in pending), Decimal(0)),
            "escalations": len(self.escalated),
            "incidents": sum(
                1 for i in self.incidents.values() if getattr(i, "status", None) != "forming"
            ),
        }


class _RecordingSession:
    def __init__(self, inner: StoreSession, pending: list[tuple[Changes, Snapshot]]) -> None:
        self.inner, self.pending = inner, pending

    def known_event_ids(self, ids: Collection[str]) -> set[str]:
        return self.inner.known_event_ids(ids)

    def add_events(self, events: Sequence[Event], received_at: datetime) -> dict[str, int]:
        return self.inner.add_events(events, received_at)

    def logged(
        self, after: int, limit: int, partitions: Mapping[int, int] | None = None
    ) -> list[tuple[int, Event]]:
        return self.inner.logged(after, limit, partitions)

    def places(self, partitions: Collection[int]) -> dict[int, int]:
        return self.inner.places(partitions)

    def set_places(self, places: Mapping[int, int]) -> None:
        self.inner.set_places(places)

    def marks(self, partitions: Collection[int]) -> dict[int, tuple[datetime | None, int]]:
        return self.inner.marks(partitions)

    def set_marks(self, marks: Mapping[int, tuple[datetime, int]]) -> None:
        self.inner.set_marks(marks)

    def log_times(self, after: int, limit: int) -> list[tuple[int, datetime]]:
        return self.inner.log_times(after, limit)

    def event_fingerprints(self, ids: Collection[str]) -> dict[str, str]:
        return self.inner.event_fingerprints(ids)

    def add_quarantined(self, items: Sequence[Quarantined], received_at: datetime) -> None:
        self.inner.add_quarantined(items, received_at)

    def get_value(self, name: str, lock: bool = False) -> str | None:
        return self.inner.get_value(name, lock)

    def set_value(self, name: str, value: str) -> None:
        self.inner.set_value(name, value)

    def partitions(self) -> int:
        return self.inner.partitions()

    def lock_partitions(self, partitions: Collection[int]) -> dict[int, int]:
        return self.inner.lock_partitions(partitions)

    def known_subjects(self, ids: Collection[str]) -> set[str]:
        return self.inner.known_subjects(ids)

    def advance_partitions(self, versions: Mapping[int, int]) -> bool:
        return self.inner.advance_partitions(versions)

    def incident(self, incident_id: str) -> Any:
        return cast(Any, self.inner).incident(incident_id)

    def open_subjects(self, attribute: str, value: str) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = cast(Any, self.inner).open_subjects(attribute, value)
        return found

    def next_timer_due(self) -> datetime | None:
        return self.inner.next_timer_due()

    def due_timers(self, until: datetime, limit: int) -> list[Timer]:
        return self.inner.due_timers(until, limit)

    def load(
        self,
        customer_ids: Collection[str],
        subject_ids: Collection[str],
        case_ids: Collection[str],
        since: datetime,
        days: Collection[date],
    ) -> Snapshot:
        return self.inner.load(customer_ids, subject_ids, case_ids, since, days)

    def save(self, changes: Changes, snapshot: Snapshot, budgets: Budgets) -> None:
        self.inner.save(changes, snapshot, budgets)
        self.pending.append((changes, snapshot))


class RecordingStore:
    """Wraps a store; records the decisions of each batch once its transaction committed."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.decisions = Decisions()

    def profile_locales(self, customer_ids: Collection[str]) -> dict[str, str]:
        return self.inner.profile_locales(customer_ids)

    @contextmanager
    def session(self) -> Iterator[_RecordingSession]:
        pending: list[tuple[Changes, Snapshot]] = []
        with self.inner.session() as session:
            yield _RecordingSession(session, pending)
        for changes, snapshot in pending:
            self.decisions.record(changes, snapshot)

    @contextmanager
    def reader(self) -> Iterator[_RecordingSession]:
        with self.inner.reader() as session:
            yield _RecordingSession(session, [])  # a reader decides nothing to record


class _FixedClock:
    """The moment the replay started. Event time drives the replay; this clock only bounds the
    policy's accepted time range (now + accept_ahead) and stamps received-at times."""

    def __init__(self) -> None:
        self.started = datetime.now(UTC)

    def now(self) -> datetime:
        return self.started


@dataclass(frozen=True)
class ReplayResult:
    events: int
    accepted: int
    rejected: int
    seconds: float
    figures: dict[str, Any]

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else float("inf")


def replay(
    raws: Sequence[object],
    policy: CompiledPolicy,
    *,
    store: Store | None = None,
    analyzer: Analyzer | None = None,
    batch_size: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> ReplayResult:
    """Run `raws` (event mappings, in file order) through the engine in event time.

    Nothing is sent: messages stay in the throwaway store's outbox. Voucher codes are counters,
    so the same history under the same policy gives identical figures."""
    recorder = RecordingStore(store if store is not None else ReplayStore())
    codes = count(1)
    engine = Engine(
        recorder,
        policy,
        _FixedClock(),
        event_time=True,
        analyzer=analyzer,
        new_code=lambda: f"REPLAY-{next(codes):08d}",
        batch_size=batch_size,
    )
    started = time.perf_counter()
    accepted = rejected = 0
    for start in range(0, len(raws), batch_size):
        report = engine.ingest(raws[start : start + batch_size], source="replay")
        accepted += report.accepted
        rejected += len(report.rejected)
        if progress:
            progress(min(start + batch_size, len(raws)))
    seconds = time.perf_counter() - started
    return ReplayResult(len(raws), accepted, rejected, seconds, recorder.decisions.figures())


def compare(baseline: dict[str, Any], candidate: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows (figure, baseline, candidate, difference), nested counts flattened as `a: key`."""
    rows = []
    for name in baseline.keys() | candidate.keys():
        b, c = baseline.get(name), candidate.get(name)
        if isinstance(b, dict) or isinstance(c, dict):
            b, c = b or {}, c or {}
            for key in sorted(b.keys() | c.keys()):
                rows.append(_row(f"{name}: {key}", b.get(key, 0), c.get(key, 0)))
        else:
            rows.append(_row(name, b or 0, c or 0))
    order = list(candidate) + [k for k in baseline if k not in candidate]
    rows.sort(key=lambda r: (order.index(r["figure"].split(":")[0]), r["figure"]))
    return rows


def _row(name: str, b: Any, c: Any) -> dict[str, Any]:
    return {"figure": name, "baseline": b, "candidate": c, "difference": c - b}
