"""The recovery loop's decisions: what an event or a timer means for a customer.

`Recovery` reads and changes a `World` (one batch's state). It never reads the clock (`now` is
passed in) and never does I/O: messages go to the outbox and money to the ledger as changes the
store writes in the same transaction. Each step is keyed (failure id + step), so a replay finds
the key taken and does nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from makegood.domain import model as m
from makegood.domain.compensation import assign_arm, check_budgets, compute_amount
from makegood.domain.compensation import required_role as role_for
from makegood.domain.context import event_context, failure_context, lateness_of, message_context
from makegood.domain.deadline import TIMER as DEADLINE
from makegood.domain.deadline import Deadlines
from makegood.domain.event import Event, jsonable, parse_datetime
from makegood.domain.incident import FANOUT, QUIET, Incidents
from makegood.domain.message import ACTION, OutboxMessage
from makegood.domain.model import Case, Compensation, Customer, Failure, Subject, TimelineEntry
from makegood.domain.rules import CompiledDetector, CompiledPlaybook, CompiledPolicy, evaluate
from makegood.domain.rules import CompiledStep as Step
from makegood.domain.text import written_in
from makegood.domain.world import World

ENGINE = "engine"
SUBJECT_SHAPING = frozenset({"order.placed", "order.eta_updated"})
PROFILE_FIELDS = ("name", "email", "phone", "locale", "tier", "lifetime_value", "channel")


class Recovery:
    def __init__(self, policy: CompiledPolicy, world: World, new_code: Callable[[], str]) -> None:
        self.policy = policy
        self.world = world
        self.new_code = new_code
        self._match = [d for d in policy.detectors if d.spec.kind == "match"]
        self._match_by_type: dict[str, list[CompiledDetector]] = {}
        self._repeat = [d for d in policy.detectors if d.spec.kind == "repeat"]
        self.incidents = Incidents(self)
        self.deadlines = Deadlines(self)

    # events ---------------------------------------------------------------------------------
    def apply(self, event: Event, now: datetime, analysis: Mapping[str, Any] | None = None) -> None:
        """React to one accepted event. Precondition: the event was not seen before (by id)."""
        world = self.world
        customer = world.customer(event.customer_id)
        if event.type == "customer.upserted":
            self._upsert_profile(customer, event)
        subject = None
        if event.subject_id is not None:
            subject = world.touch_subject(event.subject_id, event.customer_id)
            if event.type in SUBJECT_SHAPING or self.policy.detectors_on(event.type):
                subject.attributes.update(event.attributes)
            first = subject.seen.get(event.type)
            if first is None or event.occurred_at < first:
                subject.seen[event.type] = event.occurred_at
        if event.type == "survey.answered" and event.attributes.get("case_id"):
            self._survey_answered(event, now)
        if event.type == "service.alert":
            self.incidents.alert(event, now)
        written = written_in(analysis)
        if written and not customer.locale:  # no profile locale: reply in the language they wrote
            customer.locale = written
            world.touch_customer(customer)
        context = event_context(event, customer, subject, analysis)
        for detector in self.policy.detectors_on(event.type):
            if subject is not None and evaluate(detector.when, context):
                self.deadlines.arm(detector, event, subject, context, now)
        if subject is not None:
            self.deadlines.ended(event, subject, now)
        matching = self._match_by_type.get(event.type)
        if matching is None:  # in policy order, those whose type guard admits this type
            matching = self._match_by_type[event.type] = [
                d for d in self._match if d.guard in (None, event.type)
            ]
        for detector in matching:
            if evaluate(detector.when, context):
                self._on_match(detector, event, customer, subject, analysis, now)

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
            self._send_survey(case, now)
        elif timer.kind == "survey_expiry" and case.state == m.FOLLOWED_UP:
            self._set_state(case, m.CLOSED, now, ENGINE, "no answer to the survey")
            case.closed_at = now
        elif timer.kind == "sla" and case.is_open and timer.data.get("severity") == case.severity:
            self._log(case.id, now, "sla_breached", ENGINE, {"severity": case.severity})
            self._escalate(case, now, f"SLA for {case.severity} cases breached")

    # detection ------------------------------------------------------------------------------
    def _on_match(
        self,
        detector: CompiledDetector,
        event: Event,
        customer: Customer,
        subject: Subject | None,
        analysis: Mapping[str, Any] | None,
        now: datetime,
    ) -> None:
        subject_key = event.subject_id or ""
        if not subject_key and event.type == "message.received":
            # a message about nothing in particular is evidence on the customer's open case
            open_cases = [c for c in self.world.cases_of(customer.id) if c.is_open]
            if open_cases:
                subject_key = max(open_cases, key=lambda c: c.updated_at).subject_key
        evidence: dict[str, Any] = {
            "event_id": event.id,
            "event_type": event.type,
            "attributes": jsonable(event.attributes),
        }
        if analysis:
            evidence["analysis"] = dict(analysis)
        if "text" in event.attributes:
            evidence["text"] = str(event.attributes["text"])[:500]
        key_part = subject_key if event.subject_id else event.id
        raise_by = 0
        if event.subject_id and self.world.failure_by_key(f"{detector.name}:{key_part}"):
            # the same complaint again about the same subject: evidence, maybe more severe
            case = self.world.case_for(customer.id, subject_key)
            earlier = sum(
                1
                for f in (self.world.failures_of(case.id) if case else ())
                if f.detector == detector.name and f.subject_id == event.subject_id
            )
            evidence["repeat"] = earlier + 1
            raise_by = detector.spec.repeats_raise_by * earlier
            key_part = f"{subject_key}:{m.stable_id('repeat', event.id)}"  # keys fit 400
        self._detect(
            detector,
            customer,
            subject,
            subject_key,
            event.occurred_at,
            now,
            evidence,
            event.attributes,
            key_part=key_part,
            analysis=analysis,
            raise_by=raise_by,
        )

    def _detect(
        self,
        detector: CompiledDetector,
        customer: Customer,
        subject: Subject | None,
        subject_key: str,
        occurred_at: datetime,
        now: datetime,
        evidence: dict[str, Any],
        attributes: Mapping[str, Any],
        key_part: str | None = None,
        analysis: Mapping[str, Any] | None = None,
        raise_by: int = 0,
    ) -> Failure | None:
        spec = detector.spec.failure
        if spec is None:
            return None
        key = f"{detector.name}:{key_part if key_part is not None else subject_key}"
        if self.world.failure_by_key(key) is not None:
            return None
        category, type_ = spec.category, str(spec.type)
        if spec.from_text and analysis and analysis.get("category"):
            category = str(analysis["category"])
            type_ = str(analysis.get("failure_type") or type_)
        case = self.world.case_for(customer.id, subject_key)
        case_id = case.id if case else m.stable_id("case", customer.id, subject_key)
        failure = Failure(
            m.stable_id("fail", key),
            key,
            detector.name,
            customer.id,
            subject.id if subject else None,
            case_id,
            type_,
            category,
            m.raise_severity(spec.severity, raise_by),
            occurred_at,
            now,
            evidence,
        )
        failure.severity = self._severity(failure, customer, subject, attributes, now)
        repeat = "repeat" in evidence
        case, rises = self._open_or_join(case, failure, customer.id, subject_key, now, repeat)
        self.world.add_failure(failure)
        self._log(
            case.id,
            now,
            "failure_detected",
            ENGINE,
            {
                "failure": failure.id,
                "detector": detector.name,
                "category": category,
                "type": type_,
                "severity": failure.severity,
                "latency_s": round(failure.detection_latency_s, 3),
                **({"repeat": evidence["repeat"]} if "repeat" in evidence else {}),
            },
        )
        incident = self.incidents.observe(failure, subject, now)
        if incident is not None:
            failure.evidence["incident"] = incident.id
        if not rises:  # evidence on a case already handled at this severity: it never blocks it
            failure.evidence["evidence_only"] = True
            if not case.is_open:  # a repeat on a case already recovered: kept, nothing to do
                failure.resolved_at = now
            self._log(
                case.id,
                now,
                "evidence_added",
                ENGINE,
                {
                    "failure": failure.id,
                    "category": category,
                    "severity": failure.severity,
                    "case_severity": case.severity,
                    **{k: evidence[k] for k in ("event_type", "text", "repeat") if k in evidence},
                },
            )
            return failure
        playbook = self.policy.playbook_for(category, failure.severity)
        failure.playbook = playbook.spec.name if playbook else None
        if playbook is not None:
            self._run_steps(playbook, "detected", failure, case, now)
        if detector.spec.kind == "match" and not case.needs_person:
            self._resolve_failure(failure, now)
        return failure

    def _severity(
        self,
        failure: Failure,
        customer: Customer,
        subject: Subject | None,
        attributes: Mapping[str, Any],
        now: datetime,
    ) -> str:
        severity = failure.severity
        context = self._failure_context(failure, customer, subject, attributes, now)
        for rule, level in self.policy.severity_rules:
            if rule.test(context):
                severity = m.max_severity(severity, level)
        for detector in self._repeat:
            since = now - detector.within
            earlier = {
                f.case_id
                for f in self.world.failures_of_customer(customer.id)
                if f.case_id != failure.case_id and f.detected_at > since
            }
            if len(earlier) >= detector.spec.count:
                severity = m.raise_severity(severity, detector.spec.raise_by)
                failure.evidence["repeat"] = {
                    "detector": detector.name,
                    "earlier_cases": len(earlier),
                }
        return severity

    def _open_or_join(
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
            self._log(
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
            self._set_state(case, m.REOPENED, now, ENGINE, "a new failure")
            self._arm_sla(case, now)
            return case, True
        if raises:
            self._log(
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

    # playbook steps -------------------------------------------------------------------------
    def _run_steps(
        self,
        playbook: CompiledPlaybook,
        on: str,
        failure: Failure,
        case: Case,
        now: datetime,
        tag: str | None = None,
    ) -> None:
        customer = self.world.customer(failure.customer_id)
        subject = self.world.subject(failure.subject_id or "")
        context = self._failure_context(
            failure, customer, subject, failure.evidence.get("attributes") or {}, now
        )
        compensation: Compensation | None = None
        for step in playbook.steps:
            if step.spec.on != on or not evaluate(step.when, context):
                continue
            key = f"{failure.id}:{tag or on}:{step.index}"
            do = step.spec.do
            if do in ("acknowledge", "apologise"):
                if on == "detected" and not tag and failure.evidence.get("incident"):
                    self._log(
                        case.id,
                        now,
                        "message_merged",
                        ENGINE,
                        {
                            "template": step.spec.template or do,
                            "incident": failure.evidence["incident"],
                        },
                    )
                    continue
                self._message(
                    case,
                    customer,
                    failure,
                    subject,
                    step.spec.template or do,
                    key,
                    now,
                    compensation,
                )
            elif do == "escalate":
                self._escalate(case, now, step.spec.reason or "the playbook asks for a person")
            elif do == "resolve":
                self._resolve_action(case, customer, failure, subject, step, key, now)
            elif do == "compensate":
                compensation = (
                    self._compensate(step, failure, case, customer, context, key, now)
                    or compensation
                )
            elif do == "follow_up" and not case.follow_up:
                case.follow_up = True
                self.world.touch_case(case, now)

    def _message(
        self,
        case: Case,
        customer: Customer,
        failure: Failure | None,
        subject: Subject | None,
        template: str,
        key: str,
        now: datetime,
        compensation: Compensation | None = None,
        extra: Mapping[str, Any] | None = None,
        channel: str | None = None,
        capped: bool = True,
    ) -> None:
        """Queue a message to the customer. `capped=False` (incident notices) sends it past the
        daily cap; it still counts toward the day's messages."""
        limit = self.policy.policy.suppression.max_messages_per_customer_per_day
        if capped and self.world.messages_on(customer.id, now.date()) >= limit:
            self._log(
                case.id,
                now,
                "message_suppressed",
                ENGINE,
                {"template": template, "reason": f"daily limit of {limit} messages"},
            )
            return
        channel = channel or customer.channel or self.policy.policy.channel
        context = message_context(
            self.policy.policy.business, customer, case, failure, subject, compensation, extra
        )
        recipient = {"email": customer.email, "sms": customer.phone}.get(channel)
        message = OutboxMessage(
            m.stable_id("msg", key),
            key,
            case.id,
            customer.id,
            channel,
            template,
            customer.locale,
            recipient,
            context,
            now,
        )
        self.world.enqueue(message, now.date())
        self._log(
            case.id,
            now,
            "message_queued",
            ENGINE,
            {"message": message.id, "template": template, "channel": channel},
        )
        if case.state in (m.DETECTED, m.REOPENED) and self.world.case(case.id) is case:
            case.acknowledged_at = case.acknowledged_at or now
            self._set_state(case, m.ACKNOWLEDGED, now, ENGINE)

    def _resolve_action(
        self,
        case: Case,
        customer: Customer,
        failure: Failure,
        subject: Subject | None,
        step: Step,
        key: str,
        now: datetime,
    ) -> None:
        action = step.spec.action or "resolve"
        context = message_context(
            self.policy.policy.business, customer, case, failure, subject, None, {"action": action}
        )
        message = OutboxMessage(
            m.stable_id("msg", key),
            key,
            case.id,
            customer.id,
            ACTION,
            action,
            customer.locale,
            None,
            context,
            now,
        )
        self.world.changes.outbox.append(message)  # calls to systems do not count against the cap
        self._log(case.id, now, "resolution_requested", ENGINE, {"action": action})
        if case.state in (m.DETECTED, m.ACKNOWLEDGED, m.REOPENED):
            self._set_state(case, m.RESOLVING, now, ENGINE)

    def _compensate(
        self,
        step: Step,
        failure: Failure,
        case: Case,
        customer: Customer,
        context: Mapping[str, Any],
        key: str,
        now: datetime,
    ) -> Compensation | None:
        if self.world.compensation_by_key(key) is not None:
            return None
        amount_spec = step.amount
        if step.arms:
            arm = assign_arm(
                customer.id,
                str(step.spec.experiment),
                tuple((name, weight) for name, weight, _ in step.arms),
            )
            case.experiment[str(step.spec.experiment)] = arm
            amount_spec = next(a for name, _, a in step.arms if name == arm)
            self._log(
                case.id,
                now,
                "experiment_assigned",
                ENGINE,
                {"experiment": step.spec.experiment, "arm": arm},
            )
        amount = compute_amount(amount_spec, context) if amount_spec else Decimal(0)
        return self.offer(
            key,
            case.id,
            customer.id,
            failure.id,
            step.spec.kind,
            amount,
            f"{failure.category} ({failure.severity})",
            step.expires_in,
            now,
            case=case,
        )

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
        """Put a compensation on the ledger once per `key`: granted at once within the
        automatic tier and every budget, otherwise waiting for a person's approval (and
        `case`, if given, escalated to the queue). Returns it if granted."""
        if amount <= 0 or self.world.compensation_by_key(key) is not None:
            return None
        policy = self.policy.policy
        role = role_for(amount, policy.empowerment)
        budget = check_budgets(self.world, policy.budgets, case_id, customer_id, amount, now)
        compensation = Compensation(
            m.stable_id("comp", key),
            key,
            case_id,
            customer_id,
            cause,
            kind,
            amount,
            policy.business.currency,
            m.PENDING,
            role,
            reason,
            now,
            expires_at=now + expires_in if kind == "voucher" else None,
        )
        self.world.add_compensation(compensation)
        needs_person = case is not None and case.needs_person
        if role == "auto" and budget.ok and not needs_person:
            self.grant(compensation, now, "auto")
            return compensation
        why = (
            budget.reason
            if not budget.ok
            else (
                "a person handles this case first"
                if needs_person
                else f"above the automatic limit: needs {role}"
            )
        )
        compensation.required_role = "agent" if role == "auto" else role
        self._log(
            case_id,
            now,
            "approval_requested",
            ENGINE,
            {
                "compensation": compensation.id,
                "amount": str(amount),
                "kind": kind,
                "required_role": compensation.required_role,
                "reason": why,
            },
        )
        if case is not None:
            self._escalate(case, now, why)  # an approval is a person's job: the case waits
        return None

    def grant(self, compensation: Compensation, now: datetime, actor: str) -> None:
        """Grant a compensation (precondition: budgets and the actor's tier were checked)."""
        compensation.status = m.GRANTED
        compensation.decided_at, compensation.decided_by = now, actor
        if compensation.kind == "voucher" and compensation.code is None:
            compensation.code = self.new_code()
        self.world.record_grant(compensation, now.date())
        self._log(
            compensation.case_id,
            now,
            "compensation_granted",
            actor,
            {
                "compensation": compensation.id,
                "kind": compensation.kind,
                "amount": str(compensation.amount),
                "currency": compensation.currency,
            },
        )

    # case life ------------------------------------------------------------------------------
    def _escalate(self, case: Case, now: datetime, reason: str) -> None:
        if case.needs_person and case.state == m.ESCALATED:
            return
        case.needs_person = True
        self._set_state(case, m.ESCALATED, now, ENGINE, reason)

    def _resolve_failure(self, failure: Failure, now: datetime) -> None:
        failure.resolved_at = now
        self.world.touch_failure(failure)
        case = self.world.case(failure.case_id)
        if case is None:
            return
        open_failures = [
            f
            for f in self.world.failures_of(case.id)
            if f.resolved_at is None and not f.evidence.get("evidence_only")
        ]
        if open_failures:  # evidence-only failures never block: they resolve with the case
            return
        # the most severe failure of this round speaks for the case; the others are superseded
        round_failures = [
            f
            for f in self.world.failures_of(case.id)
            if f.detected_at >= case.opened_at and f.playbook
        ]
        primary = max(
            round_failures or [failure], key=lambda f: (m.SEVERITY_RANK[f.severity], f.detected_at)
        )
        playbook = next((p for p in self.policy.playbooks if p.spec.name == primary.playbook), None)
        if playbook is not None:
            self._run_steps(playbook, "resolved", primary, case, now)
        if not case.needs_person:
            self.resolve_case(case, now, ENGINE)

    def resolve_case(self, case: Case, now: datetime, actor: str) -> None:
        case.needs_person = False
        case.resolved_at = now
        for failure in self.world.failures_of(case.id):
            if failure.resolved_at is None and failure.evidence.get("evidence_only"):
                failure.resolved_at = now
                self.world.touch_failure(failure)
        self.world.cancel(m.sla_key(case))
        self._set_state(case, m.RESOLVED, now, actor)
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

    def _send_survey(self, case: Case, now: datetime) -> None:
        follow_up = self.policy.policy.follow_up
        customer = self.world.customer(case.customer_id)
        survey_id = m.stable_id("survey", case.id, str(case.reopened))
        expires = now + self.policy.survey_expires_in
        extra = {
            "survey": {
                "id": survey_id,
                "case_id": case.id,
                "kind": follow_up.survey,
                "expires_at": expires.isoformat(),
            }
        }
        subject = self.world.subject(case.subject_key) if case.subject_key else None
        self._message(
            case,
            customer,
            None,
            subject,
            follow_up.template,
            f"{case.id}:survey:{case.reopened}",
            now,
            extra=extra,
        )
        self._set_state(case, m.FOLLOWED_UP, now, ENGINE)
        self.world.arm(
            m.Timer(
                f"survey_expiry:{case.id}:{case.reopened}",
                expires,
                "survey_expiry",
                case.customer_id,
                None,
                case.id,
            )
        )

    def _survey_answered(self, event: Event, now: datetime) -> None:
        case = self.world.case(str(event.attributes["case_id"]))
        if case is None or case.customer_id != event.customer_id:
            return
        score = int(event.attributes["score"])
        follow_up = self.policy.policy.follow_up
        case.survey_score = score
        self._log(
            case.id,
            now,
            "survey_answered",
            f"customer:{case.customer_id}",
            {"score": score, "comment": event.attributes.get("comment")},
        )
        if score <= follow_up.reopen_at_or_below:
            case.reopened += 1
            case.closed_at = None
            self._set_state(case, m.REOPENED, now, ENGINE, f"survey score {score}")
            self._escalate(case, now, f"poor survey answer ({score})")
        elif case.state in (m.FOLLOWED_UP, m.RESOLVED):
            case.closed_at = now
            self._set_state(case, m.CLOSED, now, ENGINE, f"survey score {score}")

    def _set_state(
        self, case: Case, state: str, now: datetime, actor: str, reason: str | None = None
    ) -> None:
        if case.state != state:
            data: dict[str, Any] = {"from": case.state, "to": state}
            if reason:
                data["reason"] = reason
            self._log(case.id, now, "state_changed", actor, data)
            case.state = state
        self.world.touch_case(case, now)

    def _failure_context(
        self,
        failure: Failure,
        customer: Customer,
        subject: Subject | None,
        attributes: Mapping[str, Any],
        now: datetime,
    ) -> dict[str, Any]:
        reference = failure.evidence.get("reference")
        lateness = lateness_of(
            failure, now, parse_datetime(reference, "reference") if reference else None
        )
        since = now - timedelta(days=30)
        earlier = [
            c
            for c in self.world.compensations_of(customer.id)
            if c.status == m.GRANTED and c.decided_at is not None and c.decided_at > since
        ]
        total = sum((c.amount for c in earlier), Decimal(0))
        return failure_context(
            failure, customer, subject, lateness, (total, len(earlier)), attributes
        )

    def _log(self, case_id: str, at: datetime, kind: str, actor: str, data: dict[str, Any]) -> None:
        self.world.log(TimelineEntry(case_id, at, kind, actor, data))
