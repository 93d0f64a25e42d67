"""Deadline detectors: a timer armed by the `on` event, due at `deadline`, ended by an `until`
event (the awaited thing arrived: the lateness is recorded) or a `stopped_by` event (the wait
ended without an arrival, e.g. a cancellation: the fired failure becomes its `stopped`
failure). The timer's key is ``deadline:<detector>:<subject>``, so arming twice is a no-op.
It records failures through `Detection`, logs through the case's `Lifecycle`, and runs steps
and resolves through `Playbooks`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from makegood.domain import model as m
from makegood.domain.errors import ExpressionError
from makegood.domain.event import Event, parse_datetime
from makegood.domain.expr import Expr
from makegood.domain.model import Failure, Subject
from makegood.domain.rules import CompiledDetector

if TYPE_CHECKING:
    from makegood.domain.detection import Detection
    from makegood.domain.lifecycle import Lifecycle
    from makegood.domain.playbook import Playbooks
    from makegood.domain.rules import CompiledPolicy
    from makegood.domain.world import World

TIMER = "deadline"
_MISSING = object()


class Deadlines:
    def __init__(
        self,
        policy: CompiledPolicy,
        world: World,
        lifecycle: Lifecycle,
        detection: Detection,
        playbooks: Playbooks,
    ) -> None:
        self.world = world
        self.policy = policy
        self.lifecycle = lifecycle
        self.detection = detection
        self.playbooks = playbooks
        self._by_name = {d.name: d for d in self.policy.detectors if d.spec.kind == "deadline"}
        # the last event context seen by `arm`, and its reference times by expression source
        self._context: Mapping[str, Any] | None = None
        self._references: dict[str, object] = {}
        self._until: dict[str, list[CompiledDetector]] = {}
        self._stops: dict[str, list[CompiledDetector]] = {}
        # the event types that end a detector's wait, arrivals first
        self._ends = {d.name: (*d.arrivals, *d.stops) for d in self._by_name.values()}
        for detector in self._by_name.values():
            for event_type in detector.arrivals:
                self._until.setdefault(event_type, []).append(detector)
            for event_type in detector.stops:
                self._stops.setdefault(event_type, []).append(detector)

    def ended(self, event: Event, subject: Subject, now: datetime) -> None:
        """An event that may end waits on its subject: an arrival or a stop."""
        for detector in self._until.get(event.type, ()):
            self._settle_deadline(detector, event, subject, now)
        if event.type in self._stops:
            self._stop_deadlines(self._stops[event.type], event, subject, now)

    def fire(self, timer: m.Timer, now: datetime) -> None:
        detector = self._by_name.get(str(timer.data.get("detector")))
        subject = self.world.subject(timer.subject_id or "")
        if detector is not None and subject is not None:
            self._deadline_failure(detector, subject, timer.due_at, timer.data, now)

    def arm(
        self,
        detector: CompiledDetector,
        event: Event,
        subject: Subject,
        context: Mapping[str, Any],
        now: datetime,
    ) -> None:
        if detector.deadline is None:
            return
        try:
            due = detector.deadline(context)
            reference = self._reference(detector.reference, context)
        except ExpressionError:
            return
        if not isinstance(due, datetime):
            return
        name = detector.name
        data = {"detector": name, "event_id": event.id, "reference": reference}
        ended = first_end(subject.seen, self._ends[name])
        if ended:  # the awaited event came first (out of order): late only if after the deadline
            ended_at, ended_by = ended
            if ended_at > due:
                failure = self._deadline_failure(detector, subject, due, data, now)
                if failure is not None and ended_by in detector.stops:
                    self._stop_failures([(detector, failure)], ended_by, ended_at, now)
                elif failure is not None:
                    self._settle_failure(failure, ended_at, data, now, ended_by)
            return
        self.world.arm(
            m.Timer(
                f"deadline:{name}:{subject.id}",
                due,
                TIMER,
                subject.customer_id,
                subject.id,
                None,
                data,
            )
        )

    def _reference(self, expr: Expr | None, context: Mapping[str, Any]) -> str | None:
        """The detector's reference time as ISO text (None unless a datetime). Detectors on
        the same event often share it (``attributes.promised_at``): evaluated once per event
        context and expression source. Expressions are pure, so this changes no result."""
        if expr is None:
            return None
        if context is not self._context:
            self._context, self._references = context, {}
        found = self._references.get(expr.source, _MISSING)
        if found is _MISSING:
            value = expr(context)
            found = value.isoformat() if isinstance(value, datetime) else None
            self._references[expr.source] = found
        return found  # type: ignore[return-value]

    def _settle_deadline(
        self, detector: CompiledDetector, event: Event, subject: Subject, now: datetime
    ) -> None:
        self.world.cancel(f"deadline:{detector.name}:{subject.id}")
        failure = self.world.failure_by_key(f"{detector.name}:{subject.id}")
        if failure is not None and failure.resolved_at is None:
            self._settle_failure(
                failure, event.occurred_at, failure.evidence, now, ended_by=event.type
            )

    def _settle_failure(
        self,
        failure: Failure,
        ended_at: datetime,
        data: Mapping[str, Any],
        now: datetime,
        ended_by: str = "order.delivered",
    ) -> None:
        """A deadline failure's awaited event arrived: record the lateness, resolve it."""
        reference = data.get("reference")
        if reference:
            failure.lateness_s = (ended_at - parse_datetime(reference, "reference")).total_seconds()
        failure.evidence = {
            **failure.evidence,
            "ended_by": ended_by,
            "ended_at": ended_at.isoformat(),
        }
        self.world.touch_failure(failure)
        minutes = round((failure.lateness_s or 0) / 60)
        self.lifecycle.log(
            failure.case_id,
            now,
            "late_arrival",
            "engine",
            {"failure": failure.id, "event": ended_by, "lateness_minutes": minutes},
        )
        self.playbooks.resolve_failure(failure, now)

    def _stop_deadlines(
        self, detectors: list[CompiledDetector], event: Event, subject: Subject, now: datetime
    ) -> None:
        stopped = []
        for detector in detectors:
            self.world.cancel(f"deadline:{detector.name}:{subject.id}")
            failure = self.world.failure_by_key(f"{detector.name}:{subject.id}")
            if failure is not None and failure.resolved_at is None:
                stopped.append((detector, failure))
        if stopped:
            self._stop_failures(stopped, event.type, event.occurred_at, now)

    def _stop_failures(
        self,
        stopped: list[tuple[CompiledDetector, Failure]],
        ended_by: str,
        ended_at: datetime,
        now: datetime,
    ) -> None:
        """Fired deadline failures whose wait a `stopped_by` event ended (a cancellation): no
        arrival, so no lateness. Each becomes its detector's `stopped` failure; the most severe
        runs the playbook of its new category, and all resolve."""
        for detector, failure in stopped:
            spec = detector.spec.stopped
            if spec is not None:
                failure.category, failure.type = spec.category, str(spec.type)
                failure.severity = m.max_severity(failure.severity, spec.severity)
            failure.evidence = {
                **failure.evidence,
                "ended_by": ended_by,
                "ended_at": ended_at.isoformat(),
                "stopped": True,
            }
            self.world.touch_failure(failure)
            self.lifecycle.log(
                failure.case_id,
                now,
                "deadline_stopped",
                "engine",
                {"failure": failure.id, "event": ended_by, "category": failure.category},
            )
        primary = max(
            (f for _, f in stopped), key=lambda f: (m.SEVERITY_RANK[f.severity], f.detected_at)
        )
        case = self.world.case(primary.case_id)
        playbook = self.policy.playbook_for(primary.category, primary.severity)
        before = primary.playbook
        for _, failure in stopped:
            failure.playbook = None
            if failure is not primary:
                failure.resolved_at = now
        primary.playbook = playbook.spec.name if playbook else None
        if case is not None and playbook is not None and case.is_open:
            if m.SEVERITY_RANK[primary.severity] >= m.SEVERITY_RANK[case.severity]:
                case.severity, case.category = primary.severity, primary.category
                self.world.touch_case(case, now)
            if playbook.spec.name != before:  # the same playbook already did its first steps
                self.playbooks.run(playbook, "detected", primary, case, now, tag="stopped")
        self.playbooks.resolve_failure(primary, now)

    def _deadline_failure(
        self,
        detector: CompiledDetector,
        subject: Subject,
        due: datetime,
        data: Mapping[str, Any],
        now: datetime,
    ) -> Failure | None:
        customer = self.world.customer(subject.customer_id)
        evidence = {"deadline": due.isoformat(), **{k: v for k, v in data.items() if v}}
        return self.detection.detect(
            detector, customer, subject, subject.id, due, now, evidence, {}
        )


def first_end(seen: Mapping[str, datetime], ends: tuple[str, ...]) -> tuple[datetime, str] | None:
    """The earliest ``(time, type)`` of the `ends` types the subject has seen, or None: what
    ``min((seen[t], t) for t in ends if t in seen)`` gives, without the list."""
    ended = None
    for end in ends:
        at = seen.get(end)
        if at is not None and (ended is None or (at, end) < ended):
            ended = (at, end)
    return ended
