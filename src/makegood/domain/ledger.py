"""The ledger: compensation offered once per key, granted within tiers and budgets, or waiting
for a person's approval. How much comes from `compensation.py`; this module records it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from makegood.domain import model as m
from makegood.domain.compensation import assign_arm, check_budgets, compute_amount
from makegood.domain.compensation import required_role as role_for
from makegood.domain.lifecycle import ENGINE, Lifecycle
from makegood.domain.model import Case, Compensation, Customer, Failure
from makegood.domain.rules import CompiledPolicy
from makegood.domain.rules import CompiledStep as Step
from makegood.domain.world import World


class Ledger:
    def __init__(
        self,
        policy: CompiledPolicy,
        world: World,
        new_code: Callable[[], str],
        lifecycle: Lifecycle,
    ) -> None:
        self.policy = policy
        self.world = world
        self.new_code = new_code
        self.lifecycle = lifecycle

    def compensate(
        self,
        step: Step,
        failure: Failure,
        case: Case,
        customer: Customer,
        context: Mapping[str, Any],
        key: str,
        now: datetime,
    ) -> Compensation | None:
        """A playbook's `compensate` step: its amount (or its experiment arm's), offered."""
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
            self.lifecycle.log(
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
        self.lifecycle.log(
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
            self.lifecycle.escalate(case, now, why)  # an approval is a person's job: it waits
        return None

    def grant(self, compensation: Compensation, now: datetime, actor: str) -> None:
        """Grant a compensation (precondition: budgets and the actor's tier were checked)."""
        compensation.status = m.GRANTED
        compensation.decided_at, compensation.decided_by = now, actor
        if compensation.kind == "voucher" and compensation.code is None:
            compensation.code = self.new_code()
        self.world.record_grant(compensation, now.date())
        self.lifecycle.log(
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
