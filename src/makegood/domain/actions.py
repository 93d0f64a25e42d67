"""What a person does to a case: notes, ownership, state, compensation and approvals.

Pure functions over a `World`, like `Recovery`: `now` and the actor are passed in, changes are
recorded in `world.changes` and written by the caller in one transaction. Every function writes a
timeline entry naming the actor, so the case's story says who did what.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from makegood.domain import model as m
from makegood.domain.compensation import ROLE_RANK, check_budgets, may_grant, required_role
from makegood.domain.errors import MakegoodError
from makegood.domain.lifecycle import set_state
from makegood.domain.model import Case, Compensation, TimelineEntry
from makegood.domain.outreach import Outreach
from makegood.domain.recovery import Recovery
from makegood.domain.rules import CompiledPolicy
from makegood.domain.world import World

KINDS = ("voucher", "credit", "refund")
MAX_NOTE = 5000
VOUCHER_VALID = timedelta(days=90)


class ActionRefused(MakegoodError):
    """The action does not apply to the case as it is now (closed, already decided, budget)."""


class NotAllowed(MakegoodError):
    """The actor's role may not do this."""


@dataclass(frozen=True)
class Actor:
    name: str
    role: str  # agent | lead | admin (ingest tokens never act on cases)


def log(
    world: World, case: Case, now: datetime, kind: str, actor: str, data: dict[str, Any]
) -> None:
    world.log(TimelineEntry(case.id, now, kind, actor, data))
    world.touch_case(case, now)


def add_note(world: World, case: Case, text: str, now: datetime, actor: Actor) -> None:
    text = text.strip()
    if not text:
        raise ActionRefused("a note needs some text")
    if len(text) > MAX_NOTE:
        raise ActionRefused(f"a note is at most {MAX_NOTE} characters")
    log(world, case, now, "note", actor.name, {"text": text})


def assign(world: World, case: Case, owner: str | None, now: datetime, actor: Actor) -> None:
    if owner == case.owner:
        return
    log(world, case, now, "assigned", actor.name, {"from": case.owner, "to": owner})
    case.owner = owner


def add_collaborator(world: World, case: Case, name: str, now: datetime, actor: Actor) -> None:
    if name in case.collaborators:
        return
    case.collaborators = [*case.collaborators, name]
    log(world, case, now, "collaborator_added", actor.name, {"collaborator": name})


def remove_collaborator(world: World, case: Case, name: str, now: datetime, actor: Actor) -> None:
    if name not in case.collaborators:
        return
    case.collaborators = [c for c in case.collaborators if c != name]
    log(world, case, now, "collaborator_removed", actor.name, {"collaborator": name})


def resolve(
    world: World,
    recovery: Recovery,
    case: Case,
    now: datetime,
    actor: Actor,
    note: str | None = None,
) -> None:
    """A person settled the case: its failures are resolved and the customer gets the survey."""
    if not case.is_open:
        raise ActionRefused(f"the case is {case.state}, not open")
    for failure in world.failures_of(case.id):
        if failure.resolved_at is None:
            failure.resolved_at = now
            world.touch_failure(failure)
    if note:
        add_note(world, case, note, now, actor)
    case.follow_up = True
    recovery.resolve_case(case, now, actor.name)


def close(world: World, case: Case, now: datetime, actor: Actor) -> None:
    if case.state == m.CLOSED:
        raise ActionRefused("the case is closed already")
    case.needs_person = False
    case.closed_at = now
    set_state(world, case, m.CLOSED, now, actor.name, "closed by a person")


def reopen(world: World, policy: CompiledPolicy, case: Case, now: datetime, actor: Actor) -> None:
    if case.is_open:
        raise ActionRefused(f"the case is {case.state}: open already")
    case.reopened += 1
    case.resolved_at = case.closed_at = None
    case.needs_person = True
    case.sla_due_at = now + policy.sla[case.severity]
    set_state(world, case, m.REOPENED, now, actor.name, "reopened by a person")
    world.arm(m.sla_timer(case, case.sla_due_at))


def request_compensation(
    world: World,
    recovery: Recovery,
    policy: CompiledPolicy,
    case: Case,
    kind: str,
    amount: Decimal,
    reason: str,
    key: str,
    now: datetime,
    actor: Actor,
) -> Compensation:
    """Grant within the actor's limit and the budgets; above the limit it waits for approval.

    A budget that would be exceeded refuses the request: budgets are hard limits that no
    approval lifts. `key` makes a retried request find its first answer."""
    found = world.compensation_by_key(key)
    if found is not None:
        return found
    if kind not in KINDS:
        raise ActionRefused(f"kind must be one of {', '.join(KINDS)}")
    if not amount.is_finite() or amount <= 0 or amount != round(amount, 2):
        raise ActionRefused("amount must be positive, with at most two decimals")
    budget = check_budgets(world, policy.policy.budgets, case.id, case.customer_id, amount, now)
    if not budget.ok:
        raise ActionRefused(budget.reason)
    failures = sorted(world.failures_of(case.id), key=lambda f: f.detected_at)
    role = required_role(amount, policy.policy.empowerment)
    comp = Compensation(
        m.stable_id("comp", key),
        key,
        case.id,
        case.customer_id,
        failures[-1].id if failures else "",
        kind,
        amount,
        policy.policy.business.currency,
        m.PENDING,
        "agent" if role == "auto" else role,
        reason.strip() or "granted by a person",
        now,
        expires_at=now + VOUCHER_VALID if kind == "voucher" else None,
    )
    world.add_compensation(comp)
    if may_grant(actor.role, amount, policy.policy.empowerment):
        recovery.grant(comp, now, actor.name)
        notify(world, policy, case, comp, now)
    else:
        log(
            world,
            case,
            now,
            "approval_requested",
            actor.name,
            {
                "compensation": comp.id,
                "amount": str(amount),
                "kind": kind,
                "required_role": comp.required_role,
                "reason": f"above the {actor.role} limit: needs {comp.required_role}",
            },
        )
    return comp


def approve(
    world: World,
    recovery: Recovery,
    policy: CompiledPolicy,
    case: Case | None,
    comp: Compensation,
    now: datetime,
    actor: Actor,
) -> None:
    """Grant a pending compensation if every budget still holds. `case` is None for an
    incident's compensation to a customer without a case of their own: the incident's timeline
    (the compensation's `case_id`) records the decision."""
    _decidable(comp, actor)
    budget = check_budgets(
        world, policy.policy.budgets, comp.case_id, comp.customer_id, comp.amount, now
    )
    if not budget.ok:
        raise ActionRefused(budget.reason)
    _record(
        world,
        case,
        comp,
        now,
        "approval_approved",
        actor.name,
        {"compensation": comp.id, "amount": str(comp.amount), "kind": comp.kind},
    )
    recovery.grant(comp, now, actor.name)
    incident = world.incident(comp.failure_id)
    if incident is not None:  # an incident's compensation: its spend counts it now
        incident.spent += comp.amount
        world.touch_incident(incident)
    notify(world, policy, case or _stand_in(comp, now), comp, now)


def reject(
    world: World,
    case: Case | None,
    comp: Compensation,
    reason: str,
    now: datetime,
    actor: Actor,
) -> None:
    _decidable(comp, actor)
    if not reason.strip():
        raise ActionRefused("a rejection needs a reason")
    comp.status = m.REJECTED
    comp.decided_at, comp.decided_by = now, actor.name
    world.changes.compensations.add(comp.id)
    _record(
        world,
        case,
        comp,
        now,
        "approval_rejected",
        actor.name,
        {
            "compensation": comp.id,
            "amount": str(comp.amount),
            "kind": comp.kind,
            "reason": reason.strip()[:MAX_NOTE],
        },
    )


def _record(
    world: World,
    case: Case | None,
    comp: Compensation,
    now: datetime,
    kind: str,
    actor: str,
    data: dict[str, Any],
) -> None:
    if case is not None and world.case(case.id) is not None:
        log(world, case, now, kind, actor, data)
    else:  # an incident's timeline: no case row to touch
        world.log(TimelineEntry(comp.case_id, now, kind, actor, data))


def _stand_in(comp: Compensation, now: datetime) -> Case:
    """The case an incident's compensation message is written for (as the incident does)."""
    return Case(comp.case_id, comp.customer_id, "", "incident", "major", "incident", now, now)


def _decidable(comp: Compensation, actor: Actor) -> None:
    if comp.status != m.PENDING:
        raise ActionRefused(f"the compensation is {comp.status} already")
    if ROLE_RANK.get(actor.role, -1) < ROLE_RANK[comp.required_role]:
        raise NotAllowed(f"this approval needs the {comp.required_role} role")


def notify(
    world: World, policy: CompiledPolicy, case: Case, comp: Compensation, now: datetime
) -> None:
    """Tell the customer what they were given (within the daily message limit)."""
    customer = world.customer(case.customer_id)
    failure = next((f for f in world.failures_of(case.id) if f.id == comp.failure_id), None)
    subject = world.subject(case.subject_key) if case.subject_key else None
    Outreach(policy, world).message(
        case,
        customer,
        failure,
        subject,
        "compensation",
        f"{comp.key}:message",
        now,
        comp,
        acknowledges=False,  # a person's decision: the case's state is theirs
    )
    if world.case(case.id) is not None:  # an incident's stand-in case has no row to touch
        world.touch_case(case, now)
