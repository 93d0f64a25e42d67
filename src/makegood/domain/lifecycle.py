"""A case's life: opened or joined by a failure, its SLA clock, escalated to a person, resolved.

`set_state` is the one way a case changes state, for the engine and for people alike; `log`
writes a timeline entry. Neither touches anything but the `World`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from makegood.domain import model as m
from makegood.domain.model import Case, Failure, TimelineEntry
from makegood.domain.rules import CompiledPolicy
from makegood.domain.world import World

ENGINE = "engine"


def log(
    world: World, case_id: str, at: datetime, kind: str, actor: str, data: dict[str, Any]
) -> None:
    world.log(TimelineEntry(case_id, at, kind, actor, data))


def set_state(
    world: World, case: Case, state: str, now: datetime, actor: str, reason: str | None = None
) -> None:
    """Move the case to `state` (a `state_changed` entry if it moved) and mark it changed."""
    if case.state != state:
        data: dict[str, Any] = {"from": case.state, "to": state}
        if reason:
            data["reason"] = reason
        log(world, case.id, now, "state_changed", actor, data)
        case.state = state
    world.touch_case(case, now)


class Lifecycle:
    def __init__(self, policy: CompiledPolicy, world: World) -> None:
        self.policy = policy
        self.world = world

    def log(self, case_id: str, at: datetime, kind: str, actor: str, data: dict[str, Any]) -> None:
        log(self.world, case_id, at, kind, actor, data)

    def set_state(
        self, case: Case, state: str, now: datetime, actor: str, reason: str | None = None
    ) -> None:
        set_state(self.world, case, state, now, actor, reason)

    def open_or_join(
        self,
        case: Case | None,
        failure: Failure,
        customer_id: str,
        subject_key: str,
        now: datetime,
        repeat: bool = False,
    ) -> tuple[Case, bool]:
        """The failure's case, opened or reopened; and whether the failure raises its stakes.

        A `repeat` (the same complaint again about the same subject) reopens a recovered case
        only when the policy raised its severity above the case's: otherwise it is evidence, so
        a complaint repeated months later never makes good a second time (issue 10, 2 and 3)."""
        if case is None:
            case = Case(
                failure.case_id,
                customer_id,
                subject_key,
                m.DETECTED,
                failure.severity,
                failure.category,
                now,
                now,
            )
            self.world.add_case(case)
            self.log(
                case.id,
                now,
                "case_opened",
                ENGINE,
                {"category": case.category, "severity": case.severity},
            )
            self._arm_sla(case, now)
            return case, True
        raises = m.SEVERITY_RANK[failure.severity] > m.SEVERITY_RANK[case.severity]
        if not case.is_open and repeat and not raises:
            return case, False
        if not case.is_open:
            case.reopened += 1
            case.resolved_at = case.closed_at = None
            case.severity, case.category = failure.severity, failure.category
            self.set_state(case, m.REOPENED, now, ENGINE, "a new failure")
            self._arm_sla(case, now)
            return case, True
        if raises:
            self.log(
                case.id,
                now,
                "severity_raised",
                ENGINE,
                {"from": case.severity, "to": failure.severity},
            )
            case.severity, case.category = failure.severity, failure.category
            self.world.touch_case(case, now)
            self._arm_sla(case, now)
            return case, True
        self.world.touch_case(case, now)
        return case, False

    def _arm_sla(self, case: Case, now: datetime) -> None:
        case.sla_due_at = case.opened_at + self.policy.sla[case.severity]
        if case.reopened:
            case.sla_due_at = now + self.policy.sla[case.severity]
        self.world.arm(m.sla_timer(case, case.sla_due_at))

    def sla_due(self, timer: m.Timer, case: Case, now: datetime) -> None:
        """The SLA timer came due: a breach escalates, if the case is still open at that level."""
        if case.is_open and timer.data.get("severity") == case.severity:
            self.log(case.id, now, "sla_breached", ENGINE, {"severity": case.severity})
            self.escalate(case, now, f"SLA for {case.severity} cases breached")

    def escalate(self, case: Case, now: datetime, reason: str) -> None:
        if case.needs_person and case.state == m.ESCALATED:
            return
        case.needs_person = True
        self.set_state(case, m.ESCALATED, now, ENGINE, reason)

    def resolve_case(self, case: Case, now: datetime, actor: str) -> None:
        """Resolve the case (and its evidence-only failures); arm the follow-up if it has one."""
        case.needs_person = False
        case.resolved_at = now
        for failure in self.world.failures_of(case.id):
            if failure.resolved_at is None and failure.evidence.get("evidence_only"):
                failure.resolved_at = now
                self.world.touch_failure(failure)
        self.world.cancel(m.sla_key(case))
        self.set_state(case, m.RESOLVED, now, actor)
        if case.follow_up:
            self.world.arm(
                m.Timer(
                    f"follow_up:{case.id}:{case.reopened}",
                    now + self.policy.follow_up_after,
                    "follow_up",
                    case.customer_id,
                    None,
                    case.id,
                )
            )
