"""Backtests: a history of events run through the engine under a policy, in event time, with
nothing sent and nothing written. `compare` puts two runs side by side.

A replay is the engine itself (`Engine`, its kept `World`, its timers, its written-behind
window) on a `LogStore`: an in-memory log (the events' ids and places, the engine's values)
and no state at all. The engine keeps every customer it sees (no eviction) and writes its one
window at the end: every `load` before that finds nothing stored, which is the truth, since
everything decided is still in the engine's memory. So there is no second implementation of
what a store does with state (loading, saving, budgets, message counts): the figures are taken
from what that one flush would write (`RecordingStore`), as they are on any other store
(`replay(..., store=SqlStore(...))` flushes as `makegood ingest` does and records each flush).
"""

from __future__ import annotations

import gc
import sys
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import count
from typing import Any, cast

from makegood.domain.event import Event, Quarantined
from makegood.domain.fingerprint import fingerprint
from makegood.domain.message import OutboxMessage
from makegood.domain.model import GRANTED, PENDING, Case, Compensation, Failure, Incident, Timer
from makegood.domain.partition import DEFAULT_PARTITIONS
from makegood.domain.policy import Budgets
from makegood.domain.rules import CompiledPolicy
from makegood.domain.world import Changes, Snapshot, counts_toward_cap
from makegood.service_layer.engine import FLUSH_EVENTS, FLUSH_SECONDS, Analyzer, Engine
from makegood.service_layer.ports import Store, StoreSession
from makegood.service_layer.resident import RESIDENT, RESIDENT_MIB


class Spent(RuntimeError):
    """A `LogStore` was used after its one flush: what was decided before it is not stored."""


class _Log:
    def __init__(self) -> None:
        # id -> the event, for a fingerprint when the id comes again (a digest of every event
        # appended costs as much as validating it); the place is the insertion order
        self.events: dict[str, Event] = {}
        self.values: dict[str, str] = {}
        self.quarantined = 0
        self.flushed = False


class LogSession:
    """One transaction on a `LogStore`: the log's appends and the engine's values are kept
    (at once: one writer, and an append never rolls back in a replay); every read of state
    finds nothing stored, every write of state is dropped, once (the end of the replay)."""

    def __init__(self, log: _Log) -> None:
        self.log = log

    # the log ------------------------------------------------------------------------------
    def known_event_ids(self, ids: Collection[str]) -> set[str]:
        return {i for i in ids if i in self.log.events}

    def add_events(self, events: Sequence[Event], received_at: datetime) -> dict[str, int]:
        known, new = self.log.events, {}
        for event in events:
            if event.id not in known:
                known[event.id] = event
                new[event.id] = len(known)
        return new

    def logged(
        self, after: int, limit: int, partitions: Mapping[int, int] | None = None
    ) -> list[tuple[int, Event]]:
        """Nothing to read back: the replay's one engine acts on what it appended as it
        appends it (handed over in memory), and no payload is kept."""
        return []

    def places(self, partitions: Collection[int]) -> dict[int, int]:
        return dict.fromkeys(partitions, 0)  # one engine acting on the whole log

    def set_places(self, places: Mapping[int, int]) -> None:
        return None

    def marks(self, partitions: Collection[int]) -> dict[int, tuple[datetime | None, int]]:
        return dict.fromkeys(partitions, (None, 0))  # one engine: its time is the log's

    def set_marks(self, marks: Mapping[int, tuple[datetime, int]]) -> None:
        return None

    def log_times(self, after: int, limit: int) -> list[tuple[int, datetime]]:
        return []  # the log is not kept (see `logged`)

    def event_fingerprints(self, ids: Collection[str]) -> dict[str, str]:
        known = self.log.events
        return {i: fingerprint(known[i]) for i in ids if i in known}

    def add_quarantined(self, items: Sequence[Quarantined], received_at: datetime) -> None:
        self.log.quarantined += len(items)

    def get_value(self, name: str, lock: bool = False) -> str | None:
        return self.log.values.get(name)

    def set_value(self, name: str, value: str) -> None:
        self.log.values[name] = value

    # state: none stored ---------------------------------------------------------------------
    def partitions(self) -> int:
        return DEFAULT_PARTITIONS

    def lock_partitions(self, partitions: Collection[int]) -> dict[int, int]:
        return dict.fromkeys(partitions, 0)  # nobody else writes: no version ever moves

    def advance_partitions(self, versions: Mapping[int, int]) -> bool:
        return True

    def known_subjects(self, ids: Collection[str]) -> set[str]:
        self._unspent()
        return set()

    def incident(self, incident_id: str) -> Incident | None:
        self._unspent()
        return None

    def open_subjects(self, attribute: str, value: str) -> list[tuple[str, str]]:
        self._unspent()
        return []

    def next_timer_due(self) -> datetime | None:
        return None

    def due_timers(self, until: datetime, limit: int) -> list[Timer]:
        self._unspent()
        return []

    def load(
        self,
        customer_ids: Collection[str],
        subject_ids: Collection[str],
        case_ids: Collection[str],
        since: datetime,
        days: Collection[date],
    ) -> Snapshot:
        self._unspent()
        return Snapshot()

    def save(self, changes: Changes, snapshot: Snapshot, budgets: Budgets) -> None:
        """The engine's one flush: dropped (a `RecordingStore` around this store takes the
        figures from it). After it, the store is spent: a read of state would find nothing
        where the engine had decided something."""
        self._unspent()
        self.log.flushed = True

    def _unspent(self) -> None:
        if self.log.flushed:
            raise Spent("a LogStore takes one flush, at the end of a replay; it stores no state")


class LogStore:
    """The store of a replay: a log and nothing else (see the module docstring). Use it with
    an engine made by `replay_engine`, which never flushes before the end."""

    def __init__(self) -> None:
        self.log = _Log()

    def profile_locales(self, customer_ids: Collection[str]) -> dict[str, str]:
        return {}  # none stored: the engine's kept profiles answer (`Engine._analyze`)

    @contextmanager
    def session(self) -> Iterator[LogSession]:
        yield LogSession(self.log)

    @contextmanager
    def reader(self) -> Iterator[LogSession]:
        yield LogSession(self.log)


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
    outbox: dict[str, OutboxMessage] = field(default_factory=dict)  # by key, every channel

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
            if message.key in self.outbox:
                continue
            self.outbox[message.key] = message
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
        # what was written, taken now: after the save, in the same transaction, the engine
        # may forget customers it keeps (beyond its limit), and with them these objects
        written = Snapshot(
            failures={i: snapshot.failures[i] for i in changes.failures},
            cases={i: snapshot.cases[i] for i in changes.cases},
            compensations={i: snapshot.compensations[i] for i in changes.compensations},
            incidents={i: snapshot.incidents[i] for i in changes.incidents},
        )
        self.pending.append((changes, written))


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
    seconds: float  # wall
    figures: dict[str, Any]
    cpu_seconds: float = 0.0  # of this process, over the same span
    decisions: Decisions | None = field(default=None, compare=False, repr=False)

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else float("inf")

    @property
    def events_per_cpu_s(self) -> float:
        return self.events / self.cpu_seconds if self.cpu_seconds else float("inf")


def replay_engine(
    store: Store,
    policy: CompiledPolicy,
    *,
    analyzer: Analyzer | None = None,
    batch_size: int = 5000,
    keep_all: bool = False,
) -> Engine:
    """The engine a replay runs: event time, voucher codes as counters (the same history
    under the same policy gives identical figures), the replay's fixed clock. `keep_all` (a
    `LogStore`): every customer kept and one window written at the end, so nothing decided
    is ever read back from a store that holds nothing."""
    codes = count(1)
    return Engine(
        store,
        policy,
        _FixedClock(),
        event_time=True,
        analyzer=analyzer,
        new_code=lambda: f"REPLAY-{next(codes):08d}",
        batch_size=batch_size,
        resident=sys.maxsize if keep_all else RESIDENT,
        resident_mib=float("inf") if keep_all else RESIDENT_MIB,
        flush_events=sys.maxsize if keep_all else FLUSH_EVENTS,
        flush_seconds=float("inf") if keep_all else FLUSH_SECONDS,
    )


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

    Nothing is sent and, on the default `LogStore`, nothing is written: the figures are what
    the engine's flushes would write. `store` (a real one) writes as `makegood ingest` does."""
    recorder = RecordingStore(store if store is not None else LogStore())
    engine = replay_engine(
        recorder, policy, analyzer=analyzer, batch_size=batch_size, keep_all=store is None
    )
    started, cpu = time.perf_counter(), time.process_time()
    accepted = rejected = 0
    try:
        for start in range(0, len(raws), batch_size):
            # the history and the state kept so far stay alive to the end (nothing is
            # evicted): the cyclic garbage collector need not walk them again on each full
            # collection (a fifth of a replay's time); unfrozen, and so collected, at the end
            gc.freeze()
            report = engine.ingest(raws[start : start + batch_size], source="replay", flush=False)
            accepted += report.accepted
            rejected += len(report.rejected)
            if progress:
                progress(min(start + batch_size, len(raws)))
        engine.flush()
    finally:
        gc.unfreeze()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    decisions = recorder.decisions
    return ReplayResult(len(raws), accepted, rejected, seconds, decisions.figures(), cpu, decisions)


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
