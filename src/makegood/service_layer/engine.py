"""The engine: events and timers in, decisions out, one transaction per batch.

Time comes from one of two places. In *event time* (historical files, replays) "now" is the
watermark: the newest `occurred_at` seen less the policy's allowed lateness; timers fire when the
watermark passes them, interleaved with the events in arrival order, so a file gives the same
result whatever the batch size and however often the process was restarted. In *wall time*
(`serve`, live feeds, the demo's simulated clock) "now" is the injected clock, and `tick()` fires
what is due.
"""

from __future__ import annotations

import heapq
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from makegood.domain.errors import BudgetConflict
from makegood.domain.event import Event, Quarantined, Rejection, parse_event
from makegood.domain.incident import DECLARED, FANOUT, incident_targets
from makegood.domain.message import OutboxMessage
from makegood.domain.model import Timer
from makegood.domain.recovery import Recovery
from makegood.domain.rules import CompiledPolicy
from makegood.domain.world import World
from makegood.service_layer.observer import BatchFigures, EngineObserver, NoObserver, batch_figures
from makegood.service_layer.ports import Clock, Store, StoreSession
from makegood.service_layer.text import TextAnalyzer, analyze_events

log = logging.getLogger(__name__)
WATERMARK = "watermark"
RETRIES = 8
Analyzer = TextAnalyzer  # what the engine needs of text analysis


@dataclass
class IngestReport:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, Rejection]] = field(default_factory=list)
    timers_fired: int = 0
    failures: int = 0
    messages: list[OutboxMessage] = field(default_factory=list)  # queued by this work
    figures: BatchFigures | None = None  # one batch's, for the observer (None: nothing decided)

    def add(self, other: IngestReport) -> None:
        self.messages.extend(other.messages)
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected.extend(other.rejected)
        self.timers_fired += other.timers_fired
        self.failures += other.failures


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
    ) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.event_time = event_time
        self.analyzer = analyzer
        self.new_code = new_code
        self.batch_size = batch_size
        self.observer: EngineObserver = observer or NoObserver()
        self._deadlines = {d.name for d in policy.detectors if d.spec.kind == "deadline"}
        self.history = max(
            [policy.repurchase_window, timedelta(days=30)] + [d.within for d in policy.detectors]
        )

    # inputs ---------------------------------------------------------------------------------
    def ingest(
        self, raws: Iterable[object], source: str = "api", lines: Sequence[int | None] | None = None
    ) -> IngestReport:
        """Validate and process untrusted events; refused ones land in the quarantine."""
        report = IngestReport()
        events: list[Event] = []
        refused: list[Quarantined] = []
        limits = self.policy.limits(self.clock.now())
        for index, raw in enumerate(raws):
            parsed = parse_event(raw, limits)
            line = lines[index] if lines is not None else None
            if isinstance(parsed, Rejection):
                report.rejected.append((index, parsed))
                refused.append(
                    Quarantined(
                        source, line, _text(raw), parsed.field, parsed.reason, parsed.event_id
                    )
                )
            else:
                events.append(parsed)
        for start in range(0, max(len(events), 1), self.batch_size):
            report.add(
                self.process(events[start : start + self.batch_size], refused if start == 0 else ())
            )
        return report

    def process(self, events: Sequence[Event], refused: Sequence[Quarantined] = ()) -> IngestReport:
        """One batch in one transaction, retried if another worker spent the budget first."""
        for attempt in range(RETRIES):
            started = time.perf_counter()
            try:
                with self.store.session() as session:
                    report = self._process(session, events, refused)
                if report.figures is not None:  # observed once committed
                    self.observer.batch_done(time.perf_counter() - started, report.figures)
                return report
            except BudgetConflict:
                log.info("budget moved under batch, retrying (attempt %d)", attempt + 1)
        raise BudgetConflict("the global budget kept moving; batch not processed")

    def tick(self) -> IngestReport:
        """Fire the timers that are due now (wall time) or at the watermark (event time)."""
        return self.process(())

    # the batch ------------------------------------------------------------------------------
    def _process(
        self, session: StoreSession, events: Sequence[Event], refused: Sequence[Quarantined]
    ) -> IngestReport:
        received = self.clock.now()
        report = IngestReport()
        unique: dict[str, Event] = {}
        for event in events:
            unique.setdefault(event.id, event)
        known = session.known_event_ids(unique) if unique else set()
        new = [e for e in unique.values() if e.id not in known]
        report.duplicates = len(events) - len(new)
        report.accepted = len(new)
        session.add_events(new, received)
        session.add_quarantined(refused, received)

        marks, start, final = self._times(session, new, received)
        if final is None:  # event time with nothing seen yet: no clock to fire timers by
            return report
        due = session.due_timers(final, limit=1_000_000)
        if not new and not due:
            if self.event_time:
                session.set_value(WATERMARK, final.isoformat())
            return report
        snapshot = session.load(
            {e.customer_id for e in new} | {t.customer_id for t in due},
            {e.subject_id for e in new if e.subject_id}
            | {t.subject_id for t in due if t.subject_id},
            {t.case_id for t in due if t.case_id},
            start - self.history,
            _days(start, final),
        )
        world = World(snapshot)
        recovery = Recovery(self.policy, world, self.new_code)
        analyses = self._analyze(new, {c.id: c.locale for c in snapshot.customers.values()})
        heap: list[tuple[datetime, str, int, Timer]] = []
        for timer in due:
            heapq.heappush(heap, (timer.due_at, timer.key, len(heap), timer))
        seen_armed = 0

        def prepare(timer: Timer) -> None:
            if timer.kind == FANOUT:
                self._resolve_fanout(session, world, timer, start, final)

        for event, now in zip(new, marks, strict=True):
            report.timers_fired += _fire_until(recovery, world, heap, now, prepare)
            if self.event_time:  # an event is known from the moment it occurred, never before
                now = max(now, event.occurred_at)
            recovery.apply(event, now, analyses.get(event.id))
            for timer in world.armed[seen_armed:]:
                heapq.heappush(heap, (timer.due_at, timer.key, len(heap) + seen_armed, timer))
            seen_armed = len(world.armed)
        while True:  # timers armed by fired timers may be due too
            fired = _fire_until(recovery, world, heap, final, prepare)
            report.timers_fired += fired
            for timer in world.armed[seen_armed:]:
                heapq.heappush(heap, (timer.due_at, timer.key, len(heap) + seen_armed, timer))
            if not fired and len(world.armed) == seen_armed:
                break
            seen_armed = len(world.armed)
        report.failures = world.new_failures
        report.messages = list(world.changes.outbox)
        report.figures = batch_figures(world, self._deadlines)
        session.save(world.changes, snapshot, self.policy.policy.budgets)
        if self.event_time:
            session.set_value(WATERMARK, final.isoformat())
        return report

    def _resolve_fanout(
        self, session: StoreSession, world: World, timer: Timer, start: datetime, final: datetime
    ) -> None:
        """Who an incident stage speaks to, with their state loaded into the batch's World:
        open subjects in the store, corrected by what this batch already changed."""
        incident_id = str(timer.data.get("incident"))
        incident = world.incident(incident_id) or session.incident(incident_id)
        spec = self.policy.incident(incident.spec) if incident else None
        if incident is None or spec is None:
            return
        world.s.incidents.setdefault(incident.id, incident)
        pairs: set[tuple[str, str]] = set()
        if int(timer.data["stage"]) == DECLARED:
            pairs = set(session.open_subjects(spec.spec.key, incident.key))
            for subject in world.s.subjects.values():
                if str(subject.attributes.get(spec.spec.key)) == incident.key:
                    pair = (subject.customer_id, subject.id)
                    closed = {"order.delivered", "order.cancelled"} & set(subject.seen)
                    (pairs.discard if closed else pairs.add)(pair)
        targets = incident_targets(incident, int(timer.data["stage"]), sorted(pairs))
        customers = {c for c, _ in targets if c not in world.s.customers}
        subjects = {s for _, s in targets if s not in world.s.subjects}
        if customers or subjects:
            world.merge(
                session.load(customers, subjects, (), start - self.history, _days(start, final))
            )
        timer.data["targets"] = [list(pair) for pair in targets]

    def _times(
        self, session: StoreSession, new: Sequence[Event], received: datetime
    ) -> tuple[list[datetime], datetime, datetime | None]:
        """`now` for each event, the first and the last `now` of the batch."""
        if not self.event_time:
            return [received] * len(new), received, received
        stored = session.get_value(WATERMARK)
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

    def _analyze(
        self, events: Sequence[Event], locales: Mapping[str, str]
    ) -> Mapping[str, Mapping[str, Any]]:
        if self.analyzer is None:
            return {}
        return analyze_events(self.analyzer, events, locales)


def _fire_until(
    recovery: Recovery,
    world: World,
    heap: list[tuple[datetime, str, int, Timer]],
    now: datetime,
    prepare: Callable[[Timer], None],
) -> int:
    fired = 0
    while heap and heap[0][0] <= now:
        _, key, _, timer = heapq.heappop(heap)
        current = world.changes.timers.get(key)
        if key in world.changes.timers_done or (current is not None and current is not timer):
            continue
        prepare(timer)
        recovery.fire(timer, now)
        fired += 1
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
