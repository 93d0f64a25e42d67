"""Running a playbook: its `detected` steps when a failure is found, its `resolved` steps when
the failure resolves. Each step is keyed ``<failure>:<on>:<step>``, so a replay does nothing
twice; words go out through `Outreach`, money through the `Ledger`, people through the case's
`Lifecycle`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from makegood.domain import model as m
from makegood.domain.context import failure_context_in
from makegood.domain.ledger import Ledger
from makegood.domain.lifecycle import ENGINE, Lifecycle
from makegood.domain.model import Case, Compensation, Customer, Failure
from makegood.domain.outreach import Outreach
from makegood.domain.rules import CompiledPlaybook, CompiledPolicy, evaluate
from makegood.domain.tone import contact_for
from makegood.domain.world import World


class Playbooks:
    def __init__(
        self,
        policy: CompiledPolicy,
        world: World,
        lifecycle: Lifecycle,
        outreach: Outreach,
        ledger: Ledger,
    ) -> None:
        self.policy = policy
        self.world = world
        self.lifecycle = lifecycle
        self.outreach = outreach
        self.ledger = ledger

    def run(
        self,
        playbook: CompiledPlaybook,
        on: str,
        failure: Failure,
        case: Case,
        now: datetime,
        tag: str | None = None,
    ) -> None:
        """Run the playbook's steps for `on` (``detected`` / ``resolved``) whose `when` holds."""
        customer = self.world.customer(failure.customer_id)
        subject = self.world.subject(failure.subject_id or "")
        context = failure_context_in(
            self.world, failure, customer, subject, failure.evidence.get("attributes") or {}, now
        )
        if on == "detected" and self.policy.contact:
            self._call(case, customer, failure, context, now)
        compensation: Compensation | None = None
        for step in playbook.steps:
            if step.spec.on != on or not evaluate(step.when, context):
                continue
            key = f"{failure.id}:{tag or on}:{step.index}"
            do = step.spec.do
            if do in ("acknowledge", "apologise"):
                if on == "detected" and not tag and failure.evidence.get("incident"):
                    self.lifecycle.log(
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
                self.outreach.message(
                    case,
                    customer,
                    failure,
                    subject,
                    step.spec.template or do,
                    key,
                    now,
                    compensation,
                    voice=context,
                )
            elif do == "escalate":
                self.lifecycle.escalate(
                    case, now, step.spec.reason or "the playbook asks for a person"
                )
            elif do == "resolve":
                action = step.spec.action or "resolve"
                self.outreach.call(case, customer, failure, subject, action, key, now)
            elif do == "compensate":
                compensation = (
                    self.ledger.compensate(step, failure, case, customer, context, key, now)
                    or compensation
                )
            elif do == "follow_up" and not case.follow_up:
                case.follow_up = True
                self.world.touch_case(case, now)

    def _call(
        self,
        case: Case,
        customer: Customer,
        failure: Failure,
        context: Mapping[str, Any],
        now: datetime,
    ) -> None:
        """A `contact` rule with `call: true` holds: a task for a person to call the customer
        (on the timeline; the case waits in the queue), once per failure."""
        rule = contact_for(self.policy, context)
        if rule is None or not rule.spec.call or failure.evidence.get("call"):
            return
        failure.evidence["call"] = True
        self.world.touch_failure(failure)
        self.lifecycle.log(
            case.id,
            now,
            "call_requested",
            ENGINE,
            {
                "failure": failure.id,
                "reason": rule.spec.reason,
                "severity": failure.severity,
                "tier": customer.tier,
                "has_phone": bool(customer.phone),  # never the number itself
            },
        )
        self.lifecycle.escalate(case, now, rule.spec.reason)

    def resolve_failure(self, failure: Failure, now: datetime) -> None:
        """The failure is over: once its case has no open failure left, the most severe of the
        round runs its `resolved` steps and the case resolves (unless a person holds it)."""
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
        playbook = self.policy.playbook_named(primary.playbook)
        if playbook is not None:
            self.run(playbook, "resolved", primary, case, now)
        if not case.needs_person:
            self.lifecycle.resolve_case(case, now, ENGINE)
