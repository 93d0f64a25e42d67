"""The engine: events and timers in, decisions out, written behind.

Batches of the log are decided in memory, on the state the engine keeps (`Resident`, with its
timers in a heap), and written together by a flush: one transaction with the place reached in
the log, every `flush_events` events or `flush_seconds` of deciding and whenever `drain`,
`tick` or `ingest` return. A crash loses only what was not flushed, which the next engine
decides again from the committed place.

Time comes from one of two places. In *event time* (historical files, replays) "now" is the
watermark: the newest `occurred_at` seen less the policy's allowed lateness; timers fire when the
watermark passes them, interleaved with the events in arrival order, so a file gives the same
result whatever the batch size and however often the process was restarted. In *wall time*
(`serve`, live feeds, the demo's simulated clock) "now" is the injected clock, and `tick()` fires
what is due.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from makegood.domain.errors import AlreadyDone, BudgetConflict, Contended
from makegood.domain.event import (
    Event,
    Quarantined,
    Rejection,
    event_to_json,
    parse_event,
)
from makegood.domain.fingerprint import fingerprint
from makegood.domain.incident import DECLARED, FANOUT, SYSTEM, Incidents, incident_targets
from makegood.domain.incident_route import Route
from makegood.domain.message import OutboxMessage
from makegood.domain.model import Timer
from makegood.domain.partition import partition_of
from makegood.domain.recovery import Recovery
from makegood.domain.rules import CompiledPolicy
from makegood.domain.watermark import follow as follow_log
from makegood.domain.world import World
from makegood.service_layer.observer import BatchFigures, EngineObserver, NoObserver, batch_figures
from makegood.service_layer.ports import Clock, Store, StoreSession
from makegood.service_layer.resident import RESIDENT, RESIDENT_MIB, Resident
from makegood.service_layer.text import TextAnalyzer, analyze_events

log = logging.getLogger(__name__)
WATERMARK = "watermark"
APPLIED = "applied"  # the place in the log (events.seq) the engine has acted on up to
_LOG = ("log", None)  # where an event read back from the log came from
RETRIES = 8
# the store refused what was decided because the state moved under it: decide again on fresh state
MOVED_UNDER = (BudgetConflict, AlreadyDone, Contended)
# what became of each event handed to the engine
ACCEPTED, DUPLICATE, CONFLICT, REJECTED = "accepted", "duplicate", "conflict", "rejected"
CONFLICT_REASON = "this id was already used by a different event; not acted on"
Analyzer = TextAnalyzer  # what the engine needs of text analysis
T = TypeVar("T")
# changes are written behind: a flush when this many events or CPU-seconds of deciding gathered
FLUSH_EVENTS = 20_000
FLUSH_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Logged:
    """An event at its place in the log."""

    seq: int
    event: Event
    where: tuple[str, int | None] = _LOG  # (source, line), for a quarantine


@dataclass(frozen=True, slots=True)
class _Follow:
    """How far a worker's batch follows the whole log (every partition's events, not only its
    own): the place it reaches, and the times of the log's events up to there from where its
    partitions' time stood (`domain/watermark.py`)."""

    until: int
    times: tuple[tuple[int, datetime], ...]  # (seq, occurred_at)

    def upto(self, seq: int) -> _Follow:
        return _Follow(min(self.until, seq), tuple(t for t in self.times if t[0] <= seq))


class Moved(Exception):
    """Another engine acted on this part of the log first: read the place again."""


@dataclass
class IngestReport:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, Rejection]] = field(default_factory=list)
    timers_fired: int = 0
    failures: int = 0
    messages: list[OutboxMessage] = field(default_factory=list)  # queued by this work
    figures: BatchFigures | None = None  # one batch's, for the observer (None: nothing decided)
    conflicts: int = 0
    # per input (index in what was handed in): accepted / duplicate / conflict / rejected
    outcomes: list[str] = field(default_factory=list)
    # appended events the engine refused to act on (see `Engine._refuse`), by id
    refused: dict[str, Rejection] = field(default_factory=dict)

    def add(self, other: IngestReport) -> None:
        self.messages.extend(other.messages)
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.conflicts += other.conflicts
        self.rejected.extend(other.rejected)
        self.timers_fired += other.timers_fired
        self.failures += other.failures
        self.refused.update(other.refused)


@dataclass
class _Decided:
    """What a batch decided, before it is written."""

    received: datetime
    report: IngestReport = field(default_factory=IngestReport)
    applied: int = 0  # the place in the log the batch follows on from
    final: datetime | None = None  # the batch's last *now*
    resident: Resident | None = None  # None: nothing was decided
    customers: set[str] = field(default_factory=set)
    quarantined: list[Quarantined] = field(default_factory=list)
    reached: dict[int, int] = field(default_factory=dict)  # partition -> place in the log
    follows: dict[int, tuple[datetime, int]] = field(default_factory=dict)  # time, followed to


@dataclass
class _Window:
    """Batches decided in memory since the last flush (written behind): the place in the log
    and the watermark they reached, and what the flush writes besides `World.changes`."""

    committed: int  # the place in the log the store holds (APPLIED): a crash goes on from it
    place: int  # the place decided up to
    mark: datetime | None  # the watermark reached (event time)
    resident: Resident | None = None  # None: nothing decided yet
    customers: set[str] = field(default_factory=set)
    reached: dict[int, int] = field(default_factory=dict)  # partition -> place decided up to
    follows: dict[int, tuple[datetime, int]] = field(default_factory=dict)  # time, followed to
    quarantined: list[tuple[list[Quarantined], datetime]] = field(default_factory=list)
    report: IngestReport = field(default_factory=IngestReport)
    events: int = 0
    seconds: float = 0.0  # spent deciding, wall clock (what the observer is told)
    # CPU time spent deciding (of the deciding thread): what bounds the window, so a busy
    # machine does not shrink it to a batch, and a crash redoes at most that much work
    work: float = 0.0


class Engine:
    def __init__(
        self,
        store: Store,
        policy: CompiledPolicy,
        clock: Clock,
        *,
        event_time: bool = True,
        analyzer: Analyzer | None = None,
        new_code: Callable[[], str],
        batch_size: int = 2000,
        observer: EngineObserver | None = None,
        resident: int = RESIDENT,
        resident_mib: float = RESIDENT_MIB,
        flush_events: int = FLUSH_EVENTS,
        flush_seconds: float = FLUSH_SECONDS,
    ) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.event_time = event_time
        self.analyzer = analyzer
        self.new_code = new_code
        self.batch_size = batch_size
        self.observer: EngineObserver = observer or NoObserver()
        self.resident_limit = resident
        self.resident_mib = resident_mib  # the kept state's budget of estimated size
        self._resident: Resident | None = None
        self._window: _Window | None = None  # decided, not yet written
        self.flush_events, self.flush_seconds = flush_events, flush_seconds
        self._careful = 0  # after a failed flush: each batch up to this place flushes alone
        self._partitions: int | None = None  # P, once read
        self._batch = threading.RLock()  # one batch at a time: they share the kept state
        self._applied: int | None = None  # the place in the log acted on, once read
        # the partitions this engine acts on: None is every one (`serve`, `ingest`); a worker
        # sets those it holds leases on (`own`) and then keeps a place in the log per partition
        self.owned: frozenset[int] | None = None
        self._places: dict[int, int] | None = None  # owned partition -> place acted on, once read
        self.watermark = WATERMARK  # the name of the watermark kept (a worker keeps its own)
        # event time of a worker (`owned`): True, each partition's time follows the whole log
        # (every partition's events, in the log's order: the same moments as one engine acting
        # on that log); False, the engine's own partitions' events only (a log whose order is
        # not the order events were sent in: several workers appending from a bus)
        self.follow_log = True
        self._marks: dict[int, tuple[datetime | None, int]] | None = None  # owned: time, place
        # where incident signals and notices go (`domain/incident_route.py`): None, at once in
        # this engine's World (every partition here); a bus sets a route that publishes what
        # belongs to partitions owned elsewhere
        self.incident_route: Callable[[Incidents], Route] | None = None
        self._pending: dict[int, Logged] = {}  # appended by this process, not yet acted on
        self._log = threading.Lock()  # guards `_pending`
        # False where a loop acts on the log (`serve`): `ingest` then appends and returns
        self.acts_on_append = True
        self.appended = threading.Event()  # set by every append: wakes that loop
        self._deadlines = {d.name for d in policy.detectors if d.spec.kind == "deadline"}
        self.history = max(
            [policy.repurchase_window, timedelta(days=30)] + [d.within for d in policy.detectors]
        )

    # inputs ---------------------------------------------------------------------------------
    def ingest(
        self,
        raws: Iterable[object],
        source: str = "api",
        lines: Sequence[int | None] | None = None,
        *,
        flush: bool = True,
    ) -> IngestReport:
        """Validate untrusted events, append them to the log (refused ones land in the
        quarantine), then act on the log — unless a loop does that (`acts_on_append` False:
        the append is the answer). `outcomes` answers for each raw input, in order: decided by
        the append, except an appended event the engine then refused to act on (`_refuse`),
        answered rejected when this call acted on it.

        `flush` False (a feed that goes on: a long file, the bench): what is decided may stay
        in memory, to be written with what the next calls decide (`flush`, `drain` and `tick`
        write it); the report counts what was written, so a later call's report may count
        what this one decided."""
        report = IngestReport()
        events: list[Event] = []
        where: list[tuple[str, int | None]] = []
        positions: list[int] = []
        refused: list[Quarantined] = []
        outcomes: list[str] = []
        limits = self.policy.limits(self.clock.now())
        for index, raw in enumerate(raws):
            parsed = parse_event(raw, limits)
            line = lines[index] if lines is not None else None
            if isinstance(parsed, Rejection):
                report.rejected.append((index, parsed))
                outcomes.append(REJECTED)
                refused.append(
                    Quarantined(
                        source, line, _text(raw), parsed.field, parsed.reason, parsed.event_id
                    )
                )
            else:
                outcomes.append(ACCEPTED)
                positions.append(index)
                events.append(parsed)
                where.append((source, line))
        for start in range(0, max(len(events), 1), self.batch_size):
            end = start + self.batch_size
            last = end >= len(events)
            part = self.append(events[start:end], refused if start == 0 else (), where[start:end])
            for position, outcome in zip(positions[start:end], part.outcomes, strict=True):
                outcomes[position] = outcome
            report.add(part)
            if not self.acts_on_append:
                continue
            acted = self.drain(flush=flush and last)
            report.add(acted)
            if not acted.refused:
                continue
            for position, event in zip(positions[:end], events[:end], strict=True):
                why = acted.refused.get(event.id)
                if why is not None and outcomes[position] == ACCEPTED:
                    outcomes[position] = REJECTED
                    report.rejected.append((position, why))
                    report.accepted -= 1
        report.outcomes = outcomes
        return report

    def append(
        self,
        events: Sequence[Event],
        refused: Sequence[Quarantined] = (),
        where: Sequence[tuple[str, int | None]] = (),
    ) -> IngestReport:
        """Append events to the log, in one transaction of its own: the point where each is
        accepted, a duplicate (same id, same payload) or a conflict (same id, another payload:
        quarantined, never acted on). `where` is each event's (source, line)."""
        for attempt in range(RETRIES):
            try:
                with self.store.session() as session:
                    received = self.clock.now()
                    new, outcomes, conflicts = _append(session, events, received)
                    session.add_quarantined(
                        [
                            *refused,
                            *(
                                Quarantined(
                                    *(where[i] if i < len(where) else ("engine", None)),
                                    _text(event_to_json(events[i])),
                                    "id",
                                    CONFLICT_REASON,
                                    events[i].id,
                                )
                                for i in conflicts
                            ),
                        ],
                        received,
                    )
                break
            except Contended:
                if attempt == RETRIES - 1:
                    raise
        report = IngestReport(outcomes=outcomes, conflicts=len(conflicts))
        report.accepted = len(new)
        report.duplicates = outcomes.count(DUPLICATE)
        place = {e.id: i for i, e in reversed(list(enumerate(events)))}  # first of an id
        with self._log:  # what this process appended, handed to its own engine directly
            for event_id, seq in new.items():
                i = place[event_id]
                self._pending[seq] = Logged(seq, events[i], where[i] if i < len(where) else _LOG)
        if new:
            self.appended.set()
        return report

    def quarantine(self, items: Sequence[Quarantined]) -> None:
        """Keep refused inputs with their reasons (nothing refused is ever lost)."""
        if items:
            with self.store.session() as session:
                session.add_quarantined(items, self.clock.now())

    def drain(self, batches: int | None = None, flush: bool = True) -> IngestReport:
        """Act on the log, from where the engine left it to its end (or for at most `batches`
        batches: a worker looks after its leases in between), a batch at a time; the
        batches' decisions and the place reached in the log are committed together (written
        behind: a flush every `flush_events` events or `flush_seconds` of deciding, and when
        the log is drained unless `flush` is False), so after a crash the engine goes on from
        the place committed and nothing is acted on twice or lost."""
        report = IngestReport()
        for _ in range(batches) if batches is not None else itertools.count():
            with self._batch:
                items, follow = self._next()
            if not items and follow is None:
                break
            report.add(self._act(items, follow))
        if flush:
            report.add(self.flush())
        return report

    def flush(self) -> IngestReport:
        """Write what was decided and not yet written, with the place in the log reached;
        answers what it wrote. If the store refuses it (a person's action moved a partition
        meanwhile, another worker spent the budget or did it first), the kept state is
        dropped and the log is decided again from the committed place, a batch at a time."""
        with self._batch:
            try:
                return self._flush()
            except BaseException as error:
                if not self._forget(error):
                    return IngestReport()
                log.info("state moved under unwritten batches (%s), deciding again", error)
        return self.drain()

    def tick(self) -> IngestReport:
        """Act on what is waiting in the log, then fire the timers that are due now (wall
        time) or at the watermark (event time)."""
        report = self.drain()
        report.add(self._act(()))
        return report

    def command(
        self,
        customer_ids: Collection[str],
        case_ids: Collection[str],
        change: Callable[[World, Recovery, datetime], T],
        *,
        wait: float | None = None,
    ) -> T:
        """A person's action (a note, a grant, an approval…) applied by the engine on the state
        it keeps, in turn with the log's batches: never racing them, and answered once it is
        committed. `change` runs on the World holding `customer_ids` and the customers of
        `case_ids` (ids of cases or incidents) at the clock's *now*; what it raises (refused,
        not found) reaches the caller and nothing is written. `wait` bounds the wait for the
        engine (seconds): past it, `Contended` (try again).

        A budget another process spent first, or a partition another process changed, is met
        as in a batch: the command is decided again on fresh state."""
        if not self._batch.acquire(timeout=-1 if wait is None else wait):
            raise Contended("the engine is busy with a batch; try again")
        try:
            self.flush()  # what batches decided is written first: a refusal never undoes it
            for _ in range(RETRIES):
                try:
                    with self.store.reader() as reading:
                        result, decided = self._command(reading, customer_ids, case_ids, change)
                    self._keep((), decided, 0.0)
                    self._flush()
                    return result
                except BaseException as error:
                    self._drop()  # the kept state may hold the change
                    if not isinstance(error, (*MOVED_UNDER, Moved)):
                        raise
            raise BudgetConflict("the state kept moving under this action; try again")
        finally:
            self._batch.release()

    def _command(
        self,
        session: StoreSession,
        customer_ids: Collection[str],
        case_ids: Collection[str],
        change: Callable[[World, Recovery, datetime], T],
    ) -> tuple[T, _Decided]:
        now = self.clock.now()
        decided = _Decided(received=now, applied=self._offset(session))
        resident = self._resident
        if resident is None:
            resident = self._resident = Resident(
                session.partitions(), self.resident_limit, self.owned, self.resident_mib
            )
        resident.begin(session)  # the partitions' versions first: all read after is as new
        world = resident.world
        world.begin()
        # the cases' (and incidents') rows name their customers; what is kept and still
        # valid wins over this read, what is missing (a case's older history) is added
        fresh = session.load(customer_ids, (), case_ids, now - self.history, {now.date()})
        customers = set(customer_ids) | {case.customer_id for case in fresh.cases.values()}
        resident.claim(customers)
        world.merge(fresh)
        world.refresh(fresh)
        decided.resident, decided.customers = resident, customers
        result = change(
            world, Recovery(self.policy, world, self.new_code, self.incident_route), now
        )
        return result, decided

    def own(self, partitions: Collection[int]) -> None:
        """Act from now on only on the log of these partitions (a worker's leases); the
        places reached in them are read again from the store before the next batch."""
        with self._batch:
            self.flush()  # decided under the leases held until now: written (or fenced)
            self.owned = frozenset(partitions)
            self._drop()  # kept state and timers are loaded again for the partitions held
            with self._log:
                self._pending.clear()

    def _owned_places(self, session: StoreSession) -> dict[int, int]:
        if self._places is None:
            self._places = session.places(self.owned or ())
        return self._places

    def _offset(self, session: StoreSession | None = None) -> int:
        if self._applied is None:
            if session is None:
                with self.store.session() as reading:
                    return self._offset(reading)
            stored = session.get_value(APPLIED)
            self._applied = int(stored) if stored else 0
        return self._applied

    def _next(self) -> tuple[list[Logged], _Follow | None]:
        """The next batch of the log: what this process appended itself, taken from memory
        while it follows on from the place reached, else read back from the store."""
        if self.owned is not None:
            return self._next_owned()
        applied = self._offset()
        items: list[Logged] = []
        with self._log:
            for seq in [s for s in self._pending if s <= applied]:
                del self._pending[seq]
            seq = applied + 1
            while seq in self._pending and len(items) < self.batch_size:
                items.append(self._pending[seq])
                seq += 1
        if items:
            return items, None
        with self.store.session() as session:
            logged = session.logged(applied, self.batch_size)
        for seq, stored in logged:
            parsed = parse_event(event_to_json(stored))
            if isinstance(parsed, Rejection):  # it passed once: only a changed limit refuses it
                parsed = stored
            items.append(Logged(seq, parsed, _LOG))
        return items, None

    def _next_owned(self) -> tuple[list[Logged], _Follow | None]:
        """A worker's next batch: the log of the partitions it owns, each from its own place,
        read back from the store (other processes append to the log of its partitions too);
        in event time following the log, with the times of the whole log up to where the
        batch ends (the log's end when the batch is not full: idle partitions follow)."""
        with self._log:
            self._pending.clear()
        if not self.owned:
            return [], None
        following = self._following
        times: list[tuple[int, datetime]] = []
        start = 0
        with self.store.reader() as session:
            places = dict(self._owned_places(session))
            if following:  # read first: every own event up to the last time read is logged
                start = self._followed(session)
                # about the stretch of the log that holds a batch of its own partitions' events
                span = self.batch_size * (session.partitions() // len(self.owned) + 1)
                times = session.log_times(start, span)
            logged = session.logged(min(places.values()), self.batch_size, places)
        items: list[Logged] = []
        for seq, stored in logged:
            parsed = parse_event(event_to_json(stored))
            if isinstance(parsed, Rejection):  # it passed once: only a changed limit refuses it
                parsed = stored
            items.append(Logged(seq, parsed, _LOG))
        if not following:
            return items, None
        until = times[-1][0] if times else start
        if len(items) == self.batch_size and items[-1].seq < until:
            until = items[-1].seq  # the batch ends there for every partition it owns
        items = [item for item in items if item.seq <= until]
        if not items and until <= start:
            return [], None
        return items, _Follow(until, tuple(t for t in times if t[0] <= until))

    def _check_log(self, session: StoreSession, items: Sequence[Logged]) -> int:
        """Before deciding: this engine still follows on from the place(s) it last reached
        (else another engine acted on this part of the log first: `Moved`)."""
        if self.owned is None:
            applied, stored = self._offset(session), session.get_value(APPLIED)
            # the store holds the place of the last flush; batches since are written behind
            committed = self._window.committed if self._window else applied
            if (int(stored) if stored else 0) != committed or (items and items[0].seq <= applied):
                raise Moved("another engine acted on this part of the log")
            return applied
        places = self._owned_places(session)
        if session.places(self.owned) != places or any(
            item.seq <= places.get(self._partition(session, item), item.seq) for item in items
        ):
            raise Moved("another engine acted on this part of the log")
        return 0

    def _commit_log(self, session: StoreSession, applied: int) -> None:
        """In the batch's write transaction, first: the place(s) still where the batch began,
        held to the end (engines acting on one log take turns; a worker's rows are its
        partitions', and holding them checks its leases' epochs: `Fenced`)."""
        if self.owned is None:
            stored = session.get_value(APPLIED, lock=True)
            if (int(stored) if stored else 0) != applied:
                raise Moved("another engine acted on this part of the log")
            return
        if session.places(self.owned) != self._owned_places(session):
            raise Moved("another engine acted on this part of the log")

    def _log_reached(self, session: StoreSession, reached: Mapping[int, int], place: int) -> None:
        """The places reached in the log (per partition, and the last), written with the
        batches: per partition always (a worker's, or `makegood partitions`' lag), and the one
        place where one engine acts on the whole log."""
        if not reached:
            return
        session.set_places(reached)
        if self.owned is None:
            session.set_value(APPLIED, str(place))
        elif self._places is not None:
            self._places.update(reached)

    def _partition(self, session: StoreSession, item: Logged) -> int:
        if self._partitions is None:
            self._partitions = session.partitions()
        return partition_of(item.event.customer_id, self._partitions)

    def _act(self, items: Sequence[Logged], follow: _Follow | None = None) -> IngestReport:
        """One batch of the log: decided on what a read of the store shows (no write lock
        held while deciding), then written in one short transaction that first checks nothing
        it read has changed since — the partitions' versions and the place in the log — and is
        retried on fresh state if something did, or if another worker spent the budget first
        or did first what this batch decided (`AlreadyDone`).

        Written behind: the batch joins those decided since the last flush, and is written
        with them when the flush is due (`_due`); answers what was written. A flush that fails
        for a batch decided earlier drops them all and the log is decided again from the
        committed place, each batch up to where it had reached written alone (`_careful`), so
        the retries below meet the batch that fails.

        Texts are analysed first, outside any transaction."""
        analyses = self._analyze([item.event for item in items])
        for attempt in range(RETRIES):
            started, cpu = time.perf_counter(), time.thread_time()
            earlier = False  # batches decided before this one are not written yet
            try:
                with self._batch:
                    earlier = self._window is not None
                    with self.store.reader() as reading:
                        decided = self._process(reading, items, analyses, follow)
                    window = self._keep(items, decided, time.perf_counter() - started)
                    window.work += time.thread_time() - cpu
                    if self._due(items):
                        return self._flush()
                return IngestReport()
            except BaseException as error:
                if not self._forget(error, items[-1].seq if items else 0):
                    return IngestReport()  # another engine acted on this part: go on from there
                if earlier:  # decide again from the committed place, a batch at a time
                    log.info("state moved under unwritten batches (%s), deciding again", error)
                    return IngestReport()
                if attempt == RETRIES - 1:
                    if isinstance(error, AlreadyDone) and items:
                        return self._isolate(items, error, follow)
                    raise
                log.info("state moved under batch (%s), retrying (attempt %d)", error, attempt + 1)
        raise AssertionError("unreachable")

    def _isolate(
        self, items: Sequence[Logged], error: AlreadyDone, follow: _Follow | None = None
    ) -> IngestReport:
        """A batch that meets `AlreadyDone` on every retry holds an event the stored state
        refuses: not a race but bad input. Its halves are acted on alone (results do not depend
        on batch boundaries) and the one event that still fails is quarantined with the reason
        and passed over in the log, so one bad event never stops the others."""
        if len(items) == 1:
            item = items[0]
            reason = f"conflicts with what is stored, not acted on: {error}"
            with self._batch, self.store.session() as session:
                p = self._partition(session, item)
                if self.owned is not None:  # a worker: the partition's own place
                    passed = session.places({p}).get(p, item.seq) >= item.seq
                else:
                    passed = self._offset(session) != item.seq - 1
                if not passed:  # nobody passed over it meanwhile
                    session.add_quarantined(
                        [
                            Quarantined(
                                *item.where,
                                _text(event_to_json(item.event)),
                                "",
                                reason,
                                item.event.id,
                            )
                        ],
                        self.clock.now(),
                    )
                    session.set_places({p: item.seq})
                    if self.owned is None:
                        session.set_value(APPLIED, str(item.seq))
            self._applied, self._places = None, None
            log.warning("event %s quarantined: %s", item.event.id, error)
            return IngestReport(refused={item.event.id: Rejection("", reason, item.event.id)})
        middle = len(items) // 2
        first = self._act(items[:middle], follow and follow.upto(items[middle - 1].seq))
        first.add(self._act(items[middle:], follow))
        return first

    # the batch ------------------------------------------------------------------------------
    def _process(
        self,
        session: StoreSession,
        items: Sequence[Logged],
        analyses: Mapping[str, Mapping[str, Any]],
        follow: _Follow | None = None,
    ) -> _Decided:
        """Decide a batch on a read of the store (`session` writes nothing)."""
        received = self.clock.now()
        decided = _Decided(received=received)
        report = decided.report
        decided.applied = self._check_log(session, items)
        for item in items:  # the place reached in each partition's log
            decided.reached[self._partition(session, item)] = item.seq
        resident = self._resident
        if resident is None:
            resident = self._resident = Resident(
                session.partitions(), self.resident_limit, self.owned, self.resident_mib
            )
        resident.begin(session)  # the partitions' versions first: all read after is as new
        new = [item.event for item in items]
        plan: Sequence[tuple[datetime, Logged | None]]
        if self._following:
            plan, start, final, decided.follows = self._follow_times(
                session, items, follow, received
            )
        else:
            marks, start, final = self._times(session, new, received)
            plan = list(zip(marks, items, strict=True))
        decided.final = final
        if final is None:  # event time with nothing seen yet: no clock to fire timers by
            return decided
        due = resident.timers.due(final)
        if self.owned is not None:  # a worker fires the timers of its partitions only
            due = [t for t in due if partition_of(t.customer_id, resident.partitions) in self.owned]
        if not new and not due:
            return decided
        customers = self._prepare(session, resident, new, due, start, final)
        decided.resident, decided.customers = resident, customers
        world = resident.world
        recovery = Recovery(self.policy, world, self.new_code, self.incident_route)

        def prepare(timer: Timer) -> None:
            if timer.kind == FANOUT:
                self._resolve_fanout(session, resident, timer, start, final)

        timers = _Timers(recovery, world, due, prepare)
        for mark, logged in plan:
            report.timers_fired += timers.fire_until(mark)
            if logged is None:  # another partition's event: the log's time moves on
                continue
            item, event = logged, logged.event
            owner = world.subject(event.subject_id) if event.subject_id else None
            if owner is not None and owner.customer_id != event.customer_id:
                # not a race but bad input: never act on another customer's subject
                self._refuse(decided, item)
                continue
            # an event is known from the moment it occurred, never before
            now = max(mark, event.occurred_at) if self.event_time else mark
            recovery.apply(event, now, analyses.get(event.id))
            timers.schedule()
            # what the event armed already due fires at its mark, as if the batch ended here
            report.timers_fired += timers.fire_until(mark)
        report.timers_fired += timers.fire_until(final)
        report.failures = world.new_failures
        report.messages = world.batch_outbox()
        return decided

    def _keep(self, items: Sequence[Logged], decided: _Decided, seconds: float) -> _Window:
        """A batch decided: it joins the batches not yet written."""
        window = self._window
        if window is None:
            window = self._window = _Window(decided.applied, decided.applied, None)
        window.report.add(decided.report)
        window.events += len(items)
        window.seconds += seconds
        if decided.quarantined:
            window.quarantined.append((decided.quarantined, decided.received))
        if self.event_time and decided.final is not None:
            window.mark = decided.final
        if decided.resident is not None:
            window.resident = decided.resident
            window.customers |= decided.customers
            decided.resident.touch(decided.customers)
            world = decided.resident.world
            decided.resident.timers.decided(world.changes, world.armed, world.done)
        window.reached.update(decided.reached)
        window.follows.update(decided.follows)
        if items:
            window.place = self._applied = items[-1].seq
        return window

    def _due(self, items: Sequence[Logged]) -> bool:
        """Whether the batches kept are written now."""
        window = self._window
        return window is not None and (
            not items
            or items[-1].seq <= self._careful
            or self.owned is not None  # a worker writes each batch: its places move with it
            or window.events >= self.flush_events
            or window.work >= self.flush_seconds
        )

    def _flush(self) -> IngestReport:
        """The one write transaction of the batches kept: nothing they decided on may have
        moved."""
        window = self._window
        if window is None:
            return IngestReport()
        started = time.perf_counter()
        resident = window.resident
        with self.store.session() as session:
            self._commit_log(session, window.committed)
            if resident is not None:
                if not session.advance_partitions(resident.read_versions()):
                    raise Contended("a partition these batches read was changed meanwhile")
                world = resident.world
                resident.timers.written_by(world.changes)
                session.save(world.changes, world.s, self.policy.policy.budgets)
            for quarantined, received in window.quarantined:
                session.add_quarantined(quarantined, received)
            if window.mark is not None and not self._following:  # a worker's: per partition
                session.set_value(self.watermark, window.mark.isoformat())
            self._log_reached(session, window.reached, window.place)
            if window.follows:
                session.set_marks(window.follows)
                if self._marks is not None:
                    self._marks.update(window.follows)
            if resident is not None:
                world = resident.world
                figures = batch_figures(world, self._deadlines)
                resident.settle(session, world.changes.customers_written(world.s))
                resident.timers.flushed(world.changes)
        self._window = None
        now = window.mark if self.event_time else self.clock.now()
        if resident is not None and now is not None and now.date() != resident.trimmed:
            # once a day: the kept customers' history bounded as `load` bounds it
            resident.world.written()
            resident.subjects -= resident.world.trim(now - self.history)
            resident.trimmed = now.date()
        report = window.report
        if resident is not None:
            resident.world.written()
            report.figures = figures
            # observed once committed
            self.observer.batch_done(window.seconds + time.perf_counter() - started, figures)
        return report

    def _forget(self, error: BaseException, reached: int = 0) -> bool:
        """After a batch or a flush failed: the kept state and what was decided and not
        written are dropped (they may hold what was rolled back). True where the log is to be
        decided again, each batch written alone up to where it had reached (`_careful`);
        False where another engine acted on this part of the log (`Moved`: go on from there);
        anything else is raised."""
        place = self._window.place if self._window else 0
        self._drop()
        if isinstance(error, Moved):
            return False
        if not isinstance(error, MOVED_UNDER):
            raise error
        self._careful = max(self._careful, place, reached)
        return True

    def _drop(self) -> None:
        """Forget the kept state and what was decided and not written: the store is the truth."""
        self._resident, self._applied, self._window, self._places = None, None, None, None
        self._marks = None

    def _prepare(
        self,
        session: StoreSession,
        resident: Resident,
        new: Sequence[Event],
        due: Sequence[Timer],
        start: datetime,
        final: datetime,
    ) -> set[str]:
        """The kept state, with what this batch needs and does not hold loaded into it (the
        customers it has not seen, or whose partition another writer changed; the history
        of subjects it holds no history of), and the global state read fresh; answers the
        batch's customers."""
        world = resident.world
        world.begin()
        # incidents' timers belong to SYSTEM, a customer with no state of its own
        customers = {e.customer_id for e in new} | {t.customer_id for t in due}
        resident.claim(customers)
        owner = {t.subject_id: t.customer_id for t in due if t.subject_id}
        owner.update((e.subject_id, e.customer_id) for e in new if e.subject_id)
        unknown = set(owner) - resident.subjects
        stored = session.known_subjects(unknown) if unknown else set()
        resident.subjects |= unknown - stored  # new subjects: no history anywhere
        cold = {c for c in customers if c not in resident.customers}
        reload = cold | {owner[s] for s in stored}
        # reloaded whole, never half; but one with changes not yet written is merged into
        # (what is kept wins, what is missing is added), as an incident's fan-out does
        unwritten = self._window.customers if self._window else set()
        resident.evict((reload & resident.customers.keys()) - unwritten)
        unknown = set(owner) - resident.subjects  # now with the subjects of those reloaded
        fresh = session.load(
            reload,
            unknown,
            {
                t.case_id
                for t in due
                if t.case_id
                and (t.customer_id == SYSTEM or t.customer_id not in resident.customers)
            },
            start - self.history,
            _days(start, final),
        )
        world.merge(fresh)
        world.refresh(fresh)
        resident.subjects |= unknown
        return customers

    def _refuse(self, decided: _Decided, item: Logged) -> None:
        """An appended event the engine will not act on: quarantined with the reason."""
        event = item.event
        reason = (
            f"subject {event.subject_id!r} belongs to another customer; not acted on "
            f"(a subject id names one customer's order, booking, ticket…)"
        )
        decided.quarantined.append(
            Quarantined(*item.where, _text(event_to_json(event)), "subject_id", reason, event.id)
        )
        decided.report.refused[event.id] = Rejection("subject_id", reason, event.id)
        log.warning("event %s quarantined: %s", event.id, reason)

    def _resolve_fanout(
        self,
        session: StoreSession,
        resident: Resident,
        timer: Timer,
        start: datetime,
        final: datetime,
    ) -> None:
        """Who an incident stage speaks to, with their state loaded into the kept World:
        open subjects in the store, corrected by what this batch already changed."""
        world = resident.world
        incident_id = str(timer.data.get("incident"))
        incident = world.incident(incident_id) or session.incident(incident_id)
        spec = self.policy.incident(incident.spec) if incident else None
        if incident is None or spec is None:
            return
        world.s.incidents.setdefault(incident.id, incident)
        pairs: set[tuple[str, str]] = set()
        if int(timer.data["stage"]) == DECLARED:
            pairs = set(session.open_subjects(spec.spec.key, incident.key))
            # the store's read is as the batch began: correct it by the subjects it changed
            for subject_id in world.changes.subjects:
                subject = world.s.subjects.get(subject_id)
                if subject is not None and str(subject.attributes.get(spec.spec.key)) == (
                    incident.key
                ):
                    pair = (subject.customer_id, subject.id)
                    closed = {"order.delivered", "order.cancelled"} & set(subject.seen)
                    (pairs.discard if closed else pairs.add)(pair)
        targets = incident_targets(incident, int(timer.data["stage"]), sorted(pairs))
        customers = {c for c, _ in targets}
        resident.claim(customers)  # may drop kept customers this batch has not touched
        cold = {c for c in customers if c not in resident.customers}
        subjects = {s for _, s in targets if s not in resident.subjects}
        if cold or subjects:
            # kept customers are merged into, never evicted: this batch may have changed them
            # already (what is kept wins over what the store read; what is missing is added)
            owners = {c for c, s in targets if s in subjects} - cold
            world.merge(
                session.load(cold | owners, subjects, (), start - self.history, _days(start, final))
            )
            resident.subjects |= subjects
            for customer_id in cold | owners:
                resident.customers[customer_id] = None
        timer.data["targets"] = [list(pair) for pair in targets]

    @property
    def _following(self) -> bool:
        """Event time per partition, following the whole log (a worker's, `follow_log`)."""
        return self.owned is not None and self.event_time and self.follow_log

    def _owned_marks(self, session: StoreSession) -> dict[int, tuple[datetime | None, int]]:
        """Each owned partition's time and the place in the log it follows up to. Where one
        engine acting on the whole log went further (`APPLIED`, before workers took over), its
        watermark is every partition's time there."""
        if self._marks is None:
            marks = session.marks(self.owned or ())
            stored, applied = session.get_value(WATERMARK), session.get_value(APPLIED)
            if stored and applied:
                whole = (datetime.fromisoformat(stored), int(applied))
                places = self._owned_places(session)
                for p, (_, followed) in marks.items():
                    if followed < whole[1] and places.get(p, 0) <= whole[1]:
                        marks[p] = whole
            self._marks = marks
        return self._marks

    def _followed(self, session: StoreSession) -> int:
        """The place in the log the owned partitions' times follow on from (the least)."""
        places, marks = self._owned_places(session), self._owned_marks(session)
        return min(max(places.get(p, 0), marks[p][1]) for p in marks) if marks else 0

    def _follow_times(
        self,
        session: StoreSession,
        items: Sequence[Logged],
        follow: _Follow | None,
        received: datetime,
    ) -> tuple[
        list[tuple[datetime, Logged | None]],
        datetime,
        datetime | None,
        dict[int, tuple[datetime, int]],
    ]:
        """A worker's batch in the log's time (`domain/watermark.py`): the watermark at each
        event of the log from where its partitions' time stands to where the batch ends, its
        own events' and the others' (at which timers fire, as one engine acting on the whole
        log fires them); the first and last watermark, and each partition's new time."""
        places, marks = self._owned_places(session), self._owned_marks(session)
        start = self._followed(session)
        # the time at `start`: that of the partitions following on from there
        base = max(
            (
                w
                for p, (w, f) in marks.items()
                if w is not None and max(places.get(p, 0), f) == start
            ),
            default=None,
        )
        until = follow.until if follow is not None else start
        times = dict(t for t in follow.times if start < t[0] <= until) if follow else {}
        for item in items:  # each is in the times read; in case one is not, its own time
            times.setdefault(item.seq, item.event.occurred_at)
            until = max(until, item.seq)
        seqs = sorted(times)
        own = {item.seq: item for item in items}
        found = follow_log(base, (times[s] for s in seqs), self.policy.allowed_lateness)
        plan = [(mark, own.get(seq)) for seq, mark in zip(seqs, found, strict=True) if mark]
        final = found[-1] if found else base
        follows: dict[int, tuple[datetime, int]] = {}
        if final is not None:
            for p, (w, f) in marks.items():
                if max(places.get(p, 0), f) < until:
                    follows[p] = (max(final, w) if w is not None else final, until)
        first = next((m for m in [base, *found] if m is not None), received)
        return plan, first, final, follows

    def _times(
        self, session: StoreSession, new: Sequence[Event], received: datetime
    ) -> tuple[list[datetime], datetime, datetime | None]:
        """`now` for each event, the first and the last `now` of the batch."""
        if not self.event_time:
            return [received] * len(new), received, received
        mark = self._window.mark if self._window else None
        if mark is None:
            stored = session.get_value(self.watermark)
            mark = datetime.fromisoformat(stored) if stored else None
        first = mark
        marks: list[datetime] = []
        lateness = self.policy.allowed_lateness
        for event in new:
            candidate = event.occurred_at - lateness
            mark = candidate if mark is None or candidate > mark else mark
            marks.append(mark)
            first = first or mark
        return marks, first or received, mark

    def _analyze(self, events: Sequence[Event]) -> Mapping[str, Mapping[str, Any]]:
        """Before the transaction; the profile locales are read without locking (a prior for
        the language only: a profile changed meanwhile costs at most a less certain guess)."""
        if self.analyzer is None:
            return {}
        first: dict[str, Event] = {}
        for event in events:
            first.setdefault(event.id, event)
        locales = self.store.profile_locales({e.customer_id for e in first.values()})
        with self._batch:
            window, resident = self._window, self._resident
            if window is not None and resident is not None:  # profiles not yet written
                kept = resident.world.s.customers
                for event in first.values():
                    if event.customer_id in window.customers and event.customer_id in kept:
                        locales[event.customer_id] = kept[event.customer_id].locale
        return analyze_events(self.analyzer, list(first.values()), locales)


def _append(
    session: StoreSession, events: Sequence[Event], received: datetime
) -> tuple[dict[str, int], list[str], list[int]]:
    """Append the batch's events; the new ones (id: place in the log), each event's outcome
    and the positions of conflicts (an id already taken by a different event)."""
    first: dict[str, Event] = {}
    for event in events:
        first.setdefault(event.id, event)
    inserted = session.add_events(list(first.values()), received) if first else {}
    taken = [i for i in first if i not in inserted]
    stored = session.event_fingerprints(taken) if taken else {}
    outcomes: list[str] = []
    conflicts: list[int] = []
    for position, event in enumerate(events):
        if event.id in inserted and first[event.id] is event:
            outcomes.append(ACCEPTED)
            continue
        original = stored.get(event.id) or fingerprint(first[event.id])
        if fingerprint(event) == original:
            outcomes.append(DUPLICATE)
        else:
            outcomes.append(CONFLICT)
            conflicts.append(position)
    return inserted, outcomes, conflicts


class _Timers:
    """The batch's timers in due order. A timer armed while the batch runs (by an event or by
    a fired timer) joins at once, so one already due fires at the same `now` whatever the
    batch boundaries."""

    def __init__(
        self,
        recovery: Recovery,
        world: World,
        due: Sequence[Timer],
        prepare: Callable[[Timer], None],
    ) -> None:
        self.recovery, self.world, self.prepare = recovery, world, prepare
        self.heap: list[tuple[datetime, str, int, Timer]] = []
        self.order = itertools.count()
        self.seen = 0
        for timer in due:
            self._push(timer)

    def _push(self, timer: Timer) -> None:
        heapq.heappush(self.heap, (timer.due_at, timer.key, next(self.order), timer))

    def schedule(self) -> None:
        """Take in the timers armed since the last call."""
        for timer in self.world.armed[self.seen :]:
            self._push(timer)
        self.seen = len(self.world.armed)

    def fire_until(self, now: datetime) -> int:
        fired = 0
        heap, changes = self.heap, self.world.changes
        while heap and heap[0][0] <= now:
            _, key, _, timer = heapq.heappop(heap)
            current = changes.timers.get(key)
            if key in changes.timers_done or (current is not None and current is not timer):
                continue
            self.prepare(timer)
            self.recovery.fire(timer, now)
            fired += 1
            self.schedule()
        return fired


def _days(start: datetime, end: datetime) -> set[date]:
    days = set()
    day = start.date()
    while day <= end.date():
        days.add(day)
        day += timedelta(days=1)
    return days


def _text(raw: object) -> str:
    try:
        return json.dumps(raw, default=str)[:10_000]
    except (TypeError, ValueError):
        return repr(raw)[:10_000]
