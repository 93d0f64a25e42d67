"""The recovery loop's decisions: what an event or a timer means for a customer.

`Recovery` is the facade the engine and the case actions use: it reads and changes a `World`
(one batch's state) through the parts that do each job — `Detection` (match and repeat
detectors, severity), `Deadlines` (deadline timers), `Lifecycle` (a case's states, SLA,
escalation, resolution), `Playbooks` (the steps), `Outreach` (the one way into the outbox),
`Ledger` (compensation, budgets, tiers), `Surveys` (the follow-up) and `Incidents`. It never
reads the clock (`now` is passed in) and never does I/O: messages go to the outbox and money to
the ledger as changes the store writes in the same transaction. Each step is keyed (failure id +
step), so a replay finds the key taken and does nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from makegood.domain import model as m
from makegood.domain.context import event_context
from makegood.domain.deadline import TIMER as DEADLINE
from makegood.domain.deadline import Deadlines
from makegood.domain.detection import Detection
from makegood.domain.event import Event
from makegood.domain.incident import FANOUT, QUIET, Incidents
from makegood.domain.incident_route import Route
from makegood.domain.ledger import Ledger
from makegood.domain.lifecycle import ENGINE, Lifecycle
from makegood.domain.model import Case, Compensation, Customer
from makegood.domain.outreach import Outreach
from makegood.domain.playbook import Playbooks
from makegood.domain.rules import CompiledPolicy, EventPlan, evaluate
from makegood.domain.survey import Surveys
from makegood.domain.text import written_in
from makegood.domain.world import World

__all__ = ["ENGINE", "Recovery"]

SUBJECT_SHAPING = frozenset({"order.placed", "order.eta_updated"})
NO_CONTEXT: Mapping[str, Any] = MappingProxyType({})  # read by no detector
PROFILE_FIELDS = ("name", "email", "phone", "locale", "tier", "lifetime_value", "channel")


class Recovery:
    def __init__(
        self,
        policy: CompiledPolicy,
        world: World,
        new_code: Callable[[], str],
        route: Callable[[Incidents], Route] | None = None,
    ) -> None:
        self.policy = policy
        self.world = world
        self.new_code = new_code
        self.lifecycle = Lifecycle(policy, world)
        self.outreach = Outreach(policy, world)
        self.ledger = Ledger(policy, world, new_code, self.lifecycle)
        self.playbooks = Playbooks(policy, world, self.lifecycle, self.outreach, self.ledger)
        self.incidents = Incidents(policy, world, self.lifecycle, self.outreach, self.ledger, route)
        self.detection = Detection(policy, world, self.lifecycle, self.playbooks, self.incidents)
        self.deadlines = Deadlines(policy, world, self.lifecycle, self.detection, self.playbooks)
        self.surveys = Surveys(policy, world, self.lifecycle, self.outreach)
        self._plans: dict[str, EventPlan] = {}  # this batch's, from the policy's

    # events ---------------------------------------------------------------------------------
    def apply(self, event: Event, now: datetime, analysis: Mapping[str, Any] | None = None) -> None:
        """React to one accepted event. Precondition: the event was not seen before (by id)."""
        world = self.world
        kind = event.type
        plan = self._plans.get(kind)
        if plan is None:
            plan = self._plans[kind] = self.policy.plan_for(kind)
        customer = world.customer(event.customer_id)
        if kind == "customer.upserted":
            self._upsert_profile(customer, event)
        subject = None
        if event.subject_id is not None:
            subject = world.touch_subject(event.subject_id, event.customer_id)
            if plan.arming or kind in SUBJECT_SHAPING:
                subject.attributes.update(event.attributes)
            first = subject.seen.get(kind)
            if first is None or event.occurred_at < first:
                subject.seen[kind] = event.occurred_at
        if kind == "survey.answered" and event.attributes.get("case_id"):
            self.surveys.answered(event, now)
        if kind == "service.alert":
            self.incidents.alert(event, now)
        if analysis:
            written = written_in(analysis)
            if written and not customer.locale:  # no profile locale: reply in their language
                customer.locale = written
                world.touch_customer(customer)
        matching = plan.matching
        # a context only for detectors that read it (most events arm or match nothing), with
        # only the costly parts they read
        context = (
            event_context(event, customer, subject, analysis, plan.reads)
            if matching or (plan.arming and subject is not None)
            else NO_CONTEXT
        )
        if subject is not None:
            for detector in plan.arming:
                if evaluate(detector.when, context):
                    self.deadlines.arm(detector, event, subject, context, now)
            if plan.ends:
                self.deadlines.ended(event, subject, now)
        if matching:
            self.detection.match(event, customer, subject, context, analysis, now)

    def _upsert_profile(self, customer: Customer, event: Event) -> None:
        for key, value in event.attributes.items():
            if key in PROFILE_FIELDS:
                setattr(customer, key, value)
            else:
                customer.attributes[key] = value
        self.world.touch_customer(customer)

    # timers ---------------------------------------------------------------------------------
    def fire(self, timer: m.Timer, now: datetime) -> None:
        """A timer came due. Precondition: it was not fired or cancelled before."""
        self.world.cancel(timer.key)
        if timer.kind in (FANOUT, QUIET):
            self.incidents.fire(timer, now)
            return
        if timer.kind == DEADLINE:
            self.deadlines.fire(timer, now)
            return
        case = self.world.case(timer.case_id or "")
        if case is None:
            return
        if timer.kind == "follow_up" and case.state == m.RESOLVED:
            self.surveys.send(case, now)
        elif timer.kind == "survey_expiry" and case.state == m.FOLLOWED_UP:
            self.surveys.expired(case, now)
        elif timer.kind == "sla":
            self.lifecycle.sla_due(timer, case, now)

    # what people's actions use --------------------------------------------------------------
    def offer(
        self,
        key: str,
        case_id: str,
        customer_id: str,
        cause: str,
        kind: str,
        amount: Decimal,
        reason: str,
        expires_in: timedelta,
        now: datetime,
        case: Case | None = None,
    ) -> Compensation | None:
        """See `Ledger.offer`."""
        return self.ledger.offer(
            key, case_id, customer_id, cause, kind, amount, reason, expires_in, now, case
        )

    def grant(self, compensation: Compensation, now: datetime, actor: str) -> None:
        """See `Ledger.grant`."""
        self.ledger.grant(compensation, now, actor)

    def resolve_case(self, case: Case, now: datetime, actor: str) -> None:
        """See `Lifecycle.resolve_case`."""
        self.lifecycle.resolve_case(case, now, actor)
