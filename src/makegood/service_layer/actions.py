"""Case actions and approvals: what the API and the dashboard ask of the engine's state.

Each function is a command to the engine that owns the case's customer (`Engine.command`): it
changes the engine's `World` through `makegood.domain.actions`, in turn with the log's batches,
and answers once that is committed. A budget that moved under us (another process granted
first) decides the command again on fresh state, as a batch is.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from makegood.domain import actions as act
from makegood.domain import model as m
from makegood.domain.actions import ActionRefused, Actor, NotAllowed
from makegood.domain.compensation import BUDGET_WINDOW, ROLE_RANK
from makegood.domain.errors import BudgetConflict, NotFound
from makegood.domain.message import OutboxMessage
from makegood.domain.model import Case, Compensation, Incident
from makegood.domain.recovery import Recovery
from makegood.domain.reply import reply
from makegood.domain.rules import CompiledPolicy
from makegood.domain.world import World
from makegood.service_layer.engine import Engine
from makegood.service_layer.ports import Clock, Store

T = TypeVar("T")
WAIT_S = 10.0

__all__ = ["ActionRefused", "Actions", "Actor", "NotAllowed"]


@dataclass
class Actions:
    store: Store
    policy: CompiledPolicy
    clock: Clock
    new_code: Callable[[], str]
    # the request that asked (the API's X-Request-ID): carried on the timeline entries it wrote
    request_id: Callable[[], str | None] = lambda: None
    # the engine that owns the state (`serve`'s, which also acts on the log); None: a new one
    engine: Engine | None = None
    wait: float | None = WAIT_S  # how long an action waits for the engine's current batch

    def __post_init__(self) -> None:
        # no engine in this process: one of its own, for the actions
        self._owner = self.engine or Engine(
            self.store, self.policy, self.clock, new_code=self.new_code
        )

    def _transaction(
        self,
        customer_ids: tuple[str, ...],
        case_ids: set[str],
        change: Callable[[World, Recovery, datetime], T],
    ) -> T:
        """The action as a command to the engine that owns the customers' state: applied in
        turn with its batches on what it keeps, answered once committed (or refused)."""

        def stamped(world: World, recovery: Recovery, now: datetime) -> T:
            result = change(world, recovery, now)
            _stamp(world, self.request_id())
            return result

        return self._owner.command(customer_ids, case_ids, stamped, wait=self.wait)

    def _run(self, case_id: str, change: Callable[[World, Recovery, Case, datetime], T]) -> T:
        def on_case(world: World, recovery: Recovery, now: datetime) -> T:
            case = world.case(case_id)
            if case is None:
                raise NotFound(f"no case {case_id!r}")
            return change(world, recovery, case, now)

        return self._transaction((), {case_id}, on_case)

    def _decide(
        self,
        compensation_id: str,
        case_id: str,
        customer_id: str,
        cause: str,
        decide: Callable[[World, Recovery, Case | None, Compensation, datetime], None],
    ) -> Compensation:
        """A decision on a pending compensation: of a case, or of an incident (whose customer
        may have no case: `case_id` is then the incident's id). `customer_id` and `cause` (the
        compensation's failure or incident) load what the decision changes."""

        def on_compensation(world: World, recovery: Recovery, now: datetime) -> Compensation:
            comp = world.compensation(compensation_id)
            if comp is None or comp.case_id != case_id:
                raise NotFound(f"no compensation {compensation_id!r} on {case_id!r}")
            decide(world, recovery, world.case(case_id), comp, now)
            return comp

        customers = (customer_id,) if customer_id else ()
        return self._transaction(customers, {case_id, cause} - {""}, on_compensation)

    # case actions -------------------------------------------------------------------------
    def note(self, case_id: str, actor: Actor, text: str) -> None:
        self._run(case_id, lambda w, r, c, now: act.add_note(w, c, text, now, actor))

    def assign(self, case_id: str, actor: Actor, owner: str | None) -> None:
        self._run(case_id, lambda w, r, c, now: act.assign(w, c, owner, now, actor))

    def add_collaborator(self, case_id: str, actor: Actor, name: str) -> None:
        self._run(case_id, lambda w, r, c, now: act.add_collaborator(w, c, name, now, actor))

    def remove_collaborator(self, case_id: str, actor: Actor, name: str) -> None:
        self._run(case_id, lambda w, r, c, now: act.remove_collaborator(w, c, name, now, actor))

    def resolve(self, case_id: str, actor: Actor, note: str | None = None) -> None:
        self._run(case_id, lambda w, r, c, now: act.resolve(w, r, c, now, actor, note))

    def close(self, case_id: str, actor: Actor) -> None:
        self._run(case_id, lambda w, r, c, now: act.close(w, c, now, actor))

    def reopen(self, case_id: str, actor: Actor) -> None:
        self._run(case_id, lambda w, r, c, now: act.reopen(w, self.policy, c, now, actor))

    def grant(
        self,
        case_id: str,
        actor: Actor,
        kind: str,
        amount: Decimal,
        reason: str,
        idempotency_key: str | None = None,
    ) -> Compensation:
        """Granted at once within the actor's limit; above it, a pending approval."""
        key = f"manual:{case_id}:{idempotency_key or uuid.uuid4().hex}"
        return self._run(
            case_id,
            lambda w, r, c, now: act.request_compensation(
                w, r, self.policy, c, kind, amount, reason, key, now, actor
            ),
        )

    def reply(
        self,
        case_id: str,
        actor: Actor,
        template: str,
        text: str,
        idempotency_key: str | None = None,
    ) -> OutboxMessage:
        """Write to the customer (free text, or a ``reply_*`` macro) through the outbox, on
        their channel and in their language, counted against the daily cap."""
        key = reply_key(case_id, idempotency_key or uuid.uuid4().hex)
        return self._run(
            case_id,
            lambda w, r, c, now: reply(w, self.policy, c, template, text, key, now, actor),
        )

    def draft_reply(self, case_id: str, actor: Actor, template: str, text: str) -> OutboxMessage:
        """The message `reply` would queue now, without queuing it (the preview): the same
        checks, context, channel and language. Nothing is saved."""
        with self.store.session() as session:
            now = self.clock.now()
            snapshot = session.load((), (), {case_id}, now - BUDGET_WINDOW, {now.date()})
            world = World(snapshot)
            case = world.case(case_id)
            if case is None:
                raise NotFound(f"no case {case_id!r}")
            return reply(world, self.policy, case, template, text, "preview", now, actor)

    # approvals ----------------------------------------------------------------------------
    def approve(
        self,
        case_id: str,
        compensation_id: str,
        actor: Actor,
        customer_id: str = "",
        cause: str = "",
        reason: str = "",
    ) -> Compensation:
        """`customer_id` and `cause` find an incident's compensation to a customer without a
        case, and the incident whose spend it adds to; a `reason` goes on the timeline."""

        def decide(
            w: World, r: Recovery, c: Case | None, comp: Compensation, now: datetime
        ) -> None:
            act.approve(w, r, self.policy, c, comp, now, actor)
            if reason.strip():
                for entry in w.changes.timeline:
                    if entry.kind == "approval_approved":
                        entry.data.setdefault("reason", reason.strip())

        return self._decide(compensation_id, case_id, customer_id, cause, decide)

    def reject(
        self,
        case_id: str,
        compensation_id: str,
        actor: Actor,
        reason: str,
        customer_id: str = "",
        cause: str = "",
    ) -> Compensation:
        return self._decide(
            compensation_id,
            case_id,
            customer_id,
            cause,
            lambda w, r, c, comp, now: act.reject(w, c, comp, reason, now, actor),
        )

    def decide_many(
        self,
        decisions: list[tuple[str, str, str, str]],
        actor: Actor,
        approve: bool,
        reason: str,
    ) -> dict[str, str]:
        """Approve or reject several pending compensations, each `(compensation_id, case_id,
        customer_id, cause)` in a transaction of its own (one refused does not undo the
        others); what became of each: its new status, or why it was refused."""
        outcome: dict[str, str] = {}
        for comp_id, case_id, customer_id, cause in decisions:
            try:
                if approve:
                    comp = self.approve(case_id, comp_id, actor, customer_id, cause, reason)
                else:
                    comp = self.reject(case_id, comp_id, actor, reason, customer_id, cause)
                outcome[comp_id] = comp.status
            except (ActionRefused, NotAllowed, NotFound, BudgetConflict) as refused:
                outcome[comp_id] = f"refused: {refused}"
        return outcome

    # incidents (a lead's) -----------------------------------------------------------------
    def declare_incident(self, actor: Actor, spec_name: str, key: str) -> str:
        """Declare the incident of `spec_name` for `key` (e.g. an area) by hand: the same
        proactive recovery as a detected one. Returns its id (an open one is returned as is)."""
        _lead(actor)
        spec = self.policy.incident(spec_name)
        if spec is None or not key.strip():
            raise ActionRefused(f"no incident kind {spec_name!r} in the policy, or no key")

        def change(world: World, recovery: Recovery, now: datetime) -> str:
            incident = world.live_incident(spec_name, key)
            if incident is not None and incident.status == "open":
                return incident.id
            if incident is None:
                incident_id = m.stable_id("inc", spec_name, key, now.isoformat())
                incident = Incident(incident_id, spec_name, key, "forming", now, now)
            recovery.incidents.declare(incident, spec, now, "manual", {"by": actor.name})
            return incident.id

        return self._transaction((), set(), change)

    def resolve_incident(self, actor: Actor, incident_id: str) -> None:
        """Resolve an open incident by hand: everyone told it began hears it is over."""
        _lead(actor)

        def change(world: World, recovery: Recovery, now: datetime) -> None:
            incident = world.incident(incident_id)
            if incident is None:
                raise NotFound(f"no incident {incident_id!r}")
            if incident.status != "open":
                raise ActionRefused(f"the incident is {incident.status}, not open")
            recovery.incidents.resolve(incident, now, actor.name)

        self._transaction((), {incident_id}, change)


def reply_key(case_id: str, idempotency_key: str) -> str:
    """The outbox key of a reply: the same idempotency key on the same case is one message."""
    return f"reply:{case_id}:{idempotency_key}"


def _lead(actor: Actor) -> None:
    if ROLE_RANK.get(actor.role, -1) < ROLE_RANK["lead"]:
        raise NotAllowed("declaring and resolving incidents needs the lead role")


def _stamp(world: World, request_id: str | None) -> None:
    if request_id:
        for entry in world.changes.timeline:
            entry.data.setdefault("request_id", request_id)
