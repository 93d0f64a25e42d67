"""Incidents: many customers failed at once for one reason; one proactive recovery for all.

A failure whose subject carries the incident's key attribute (e.g. ``area``) is a *signal*;
`threshold` signals on distinct subjects within `window` declare the incident. Declaring arms a
fan-out timer: the engine resolves who is affected (the signals' customers, and every customer
with an open subject carrying the key) and hands them over in chunks, so ten thousand messages
never hold up other events. While the incident is open, a new failure with the key joins it:
that customer hears the incident message instead of an individual acknowledgement (one merged
communication, not two). After `quiet` without a signal, or a `service.alert` restored, or by
hand, it resolves and everyone affected hears that too. Failures within `quiet` after it
resolved are its tail (the backlog), not a new incident: a cool-down.

Signals travel to the owner of the incident's key and notices to the owner of each customer
through a `Route` (`domain/incident_route.py`): at once in one process.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from makegood.domain import model as m
from makegood.domain.compensation import compute_amount
from makegood.domain.context import lifetime_value, recent_failures_in
from makegood.domain.event import Event, parse_datetime
from makegood.domain.incident_route import LocalRoute, Notice, Route, Signal
from makegood.domain.ledger import Ledger
from makegood.domain.lifecycle import ENGINE, Lifecycle
from makegood.domain.model import Compensation, Failure, Incident, Subject
from makegood.domain.outreach import Outreach
from makegood.domain.rules import CompiledIncident, CompiledPolicy
from makegood.domain.world import World

SYSTEM = "system:incidents"
FANOUT = "incident_fanout"
QUIET = "incident_quiet"
DECLARED, RESOLVED = 1, 2
TEMPLATE_SUFFIX = {DECLARED: "", RESOLVED: "_resolved"}


def incident_targets(
    incident: Incident, stage: int, open_subjects: Sequence[tuple[str, str]]
) -> list[tuple[str, str]]:
    """Who a stage speaks to, (customer, subject) pairs in a stable order: when declared, the
    customers whose failures formed it and every open subject carrying its key; when
    resolved, everyone who was told it began."""
    if stage == RESOLVED:
        return sorted((c, subjects[0]) for c, subjects in incident.affected.items() if subjects)
    pairs = {(s[1], s[2]) for s in incident.signals} | set(open_subjects)
    return sorted(pairs)


class Incidents:
    def __init__(
        self,
        policy: CompiledPolicy,
        world: World,
        lifecycle: Lifecycle,
        outreach: Outreach,
        ledger: Ledger,
        route: Callable[[Incidents], Route] | None = None,
    ) -> None:
        self.policy = policy
        self.world = world
        self.lifecycle = lifecycle
        self.outreach = outreach
        self.ledger = ledger
        self._times: dict[str, datetime] = {}  # signals' times read in this batch, by text
        self.route: Route = route(self) if route is not None else LocalRoute(self)

    def _at(self, text: str) -> datetime:
        """`parse_datetime` of a signal's time (pure), read once per batch: each new failure
        in a forming incident's area filters all its signals again."""
        at = self._times.get(text)
        if at is None:
            at = self._times[text] = parse_datetime(text, "signal")
        return at

    # signals ---------------------------------------------------------------------------------
    def observe(self, failure: Failure, subject: Subject | None, now: datetime) -> Incident | None:
        """Signal a new failure to each incident whose key its subject carries; the open
        incident it belongs to, if any (it then speaks for the customer instead of the
        failure's own acknowledgement)."""
        if subject is None:
            return None
        joined = None
        for spec in self.policy.incidents:
            value = subject.attributes.get(spec.spec.key)
            if value in (None, "") or (
                spec.spec.categories and failure.category not in spec.spec.categories
            ):
                continue
            signal = Signal(spec.spec.name, str(value), failure.customer_id, subject.id, now)
            found = self.route.signal(signal)
            if found is not None:
                joined = found
        return joined

    def receive(self, signal: Signal) -> Incident | None:
        """At the owner of the incident's key: count the signal (declare at the threshold, or
        tell the customer of the open incident); the incident the customer joined, if any."""
        spec = self.policy.incident(signal.spec)
        if spec is None:
            return None
        now, customer_id, subject_id = signal.at, signal.customer_id, signal.subject_id
        joined = None
        incident = self.world.live_incident(signal.spec, signal.key)
        if (
            incident is None
            and self.world.resolved_since(signal.spec, signal.key, now - spec.quiet) is not None
        ):
            return None  # the tail of an incident just resolved is not a new one (cool-down)
        if incident is None:
            incident = Incident(
                m.stable_id("inc", signal.spec, signal.key, now.isoformat()),
                signal.spec,
                signal.key,
                "forming",
                now,
                now,
            )
        # a subject is one customer's: look among what that customer was told, not all
        told = incident.affected.get(customer_id, ())
        if not any(s[2] == subject_id for s in incident.signals) and subject_id not in told:
            incident.last_at = now  # a new subject failing keeps the incident going
        if incident.status == "open":
            self._tell(incident, spec, customer_id, subject_id, DECLARED, now)
            joined = incident
        else:
            since = now - spec.window
            incident.signals = [s for s in incident.signals if self._at(s[0]) > since]
            incident.signals.append([now.isoformat(), customer_id, subject_id])
            if len({s[2] for s in incident.signals}) >= spec.spec.threshold:
                self.declare(incident, spec, now, "cluster")
                joined = incident
        self.world.touch_incident(incident)
        return joined

    def alert(self, event: Event, now: datetime) -> None:
        """`service.alert`: down/degraded opens (or keeps) the incident, restored resolves it."""
        area = event.attributes.get("area")
        for spec in self.policy.incidents:
            if not spec.spec.alerts or area in (None, ""):
                continue
            incident = self.world.live_incident(spec.spec.name, str(area))
            if event.attributes["status"] == "restored":
                if incident is not None and incident.status == "open":
                    self.resolve(incident, now, "monitoring")
                continue
            if incident is None:
                incident = Incident(
                    m.stable_id("inc", spec.spec.name, str(area), now.isoformat()),
                    spec.spec.name,
                    str(area),
                    "forming",
                    now,
                    now,
                )
            if incident.status != "open":
                self.declare(incident, spec, now, "alert", {"alert": event.id})

    # stages ----------------------------------------------------------------------------------
    def declare(
        self,
        incident: Incident,
        spec: CompiledIncident,
        now: datetime,
        source: str,
        data: dict[str, Any] | None = None,
    ) -> None:
        incident.status, incident.declared_at, incident.stage = "open", now, DECLARED
        incident.source = source
        self.world.touch_incident(incident)
        self.lifecycle.log(
            incident.id,
            now,
            "incident_declared",
            ENGINE,
            {
                "spec": spec.spec.name,
                "key": incident.key,
                "source": source,
                "signals": len(incident.signals),
                **(data or {}),
            },
        )
        self._fan_out(incident, DECLARED, now)
        self.world.arm(
            m.Timer(
                f"{QUIET}:{incident.id}",
                now + spec.quiet,
                QUIET,
                SYSTEM,
                None,
                incident.id,
                {"incident": incident.id},
            )
        )

    def resolve(self, incident: Incident, now: datetime, actor: str) -> None:
        incident.status, incident.resolved_at, incident.stage = "resolved", now, RESOLVED
        self.world.touch_incident(incident)
        self.world.cancel(f"{QUIET}:{incident.id}")
        self.lifecycle.log(incident.id, now, "incident_resolved", actor, {"key": incident.key})
        self._fan_out(incident, RESOLVED, now)

    def _fan_out(self, incident: Incident, stage: int, now: datetime) -> None:
        self.world.arm(
            m.Timer(
                f"{FANOUT}:{incident.id}:{stage}:0",
                now,
                FANOUT,
                SYSTEM,
                None,
                incident.id,
                {"incident": incident.id, "stage": stage, "offset": 0},
            )
        )

    # timers ----------------------------------------------------------------------------------
    def fire(self, timer: m.Timer, now: datetime) -> None:
        incident = self.world.incident(str(timer.data.get("incident")))
        if incident is None:
            return
        spec = self.policy.incident(incident.spec)
        if spec is None:
            return
        if timer.kind == QUIET:
            if incident.status != "open":
                return
            due = incident.last_at + spec.quiet
            if due <= now:
                self.resolve(incident, now, "engine")
            else:
                self.world.arm(
                    m.Timer(timer.key, due, QUIET, SYSTEM, None, incident.id, dict(timer.data))
                )
            return
        stage = int(timer.data["stage"])
        targets: Sequence[Sequence[str]] = timer.data.get("targets") or ()
        for customer_id, subject_id in targets:
            self._tell(incident, spec, customer_id, subject_id, stage, now)
        if timer.data.get("more"):
            offset = int(timer.data["offset"]) + len(targets)
            self.world.arm(
                m.Timer(
                    f"{FANOUT}:{incident.id}:{stage}:{offset}",
                    now,
                    FANOUT,
                    SYSTEM,
                    None,
                    incident.id,
                    {"incident": incident.id, "stage": stage, "offset": offset},
                )
            )

    # one customer ----------------------------------------------------------------------------
    def _tell(
        self,
        incident: Incident,
        spec: CompiledIncident,
        customer_id: str,
        subject_id: str,
        stage: int,
        now: datetime,
    ) -> None:
        """One message per customer and stage; the first subject names the order. Who was
        told is the incident's (its owner's); the telling is the customer's (a notice)."""
        subjects = incident.affected.get(customer_id)
        if stage == DECLARED:
            if subjects is not None:
                if subject_id not in subjects:
                    subjects.append(subject_id)
                return
            incident.affected[customer_id] = [subject_id]
        elif subjects is None:
            return
        self.world.touch_incident(incident)
        self.route.notify(Notice(incident.id, customer_id, subject_id, stage, now))

    def deliver(self, notice: Notice) -> None:
        """At the owner of the customer: the incident's message, with its compensation."""
        incident = self.world.incident(notice.incident_id)
        spec = self.policy.incident(incident.spec) if incident is not None else None
        if incident is None or spec is None:
            return
        customer_id, subject_id, stage, now = (
            notice.customer_id,
            notice.subject_id,
            notice.stage,
            notice.at,
        )
        customer = self.world.customer(customer_id)
        subject = self.world.subject(subject_id)
        case = self.world.case_for(customer_id, subject_id)
        compensation = (
            self._compensate(incident, spec, customer_id, case, now)
            if (stage == DECLARED and spec.amount is not None)
            else None
        )
        if case is not None:
            self.lifecycle.log(
                case.id, now, "incident_linked", ENGINE, {"incident": incident.id, "stage": stage}
            )
        extra = {
            "incident": {
                "id": incident.id,
                "key": incident.key,
                "name": incident.spec,
                "declared_at": incident.declared_at,
                "resolved_at": incident.resolved_at,
            }
        }
        sent = self.outreach.message(
            case or self._pseudo_case(incident, customer_id, subject_id, now),
            customer,
            None,
            subject,
            spec.spec.template + TEMPLATE_SUFFIX[stage],
            f"{incident.id}:{stage}:{customer_id}",
            now,
            compensation,
            extra,
            capped=False,  # proactive notice of a known problem: see ARCHITECTURE.md
        )
        incident.messages += sent is not None

    def _pseudo_case(
        self, incident: Incident, customer_id: str, subject_id: str, now: datetime
    ) -> m.Case:
        """A stand-in case for messages to customers who had no case of their own: the
        incident is their case (its timeline is the incident's)."""
        return m.Case(
            incident.id, customer_id, subject_id, "incident", "major", "incident", now, now
        )

    def _compensate(
        self,
        incident: Incident,
        spec: CompiledIncident,
        customer_id: str,
        case: m.Case | None,
        now: datetime,
    ) -> Compensation | None:
        """The incident's compensation, on the ledger like any other (same budgets and tiers);
        what needs approval waits in the queue without escalating each customer's case."""
        if spec.amount is None:
            return None
        customer = self.world.customer(customer_id)
        case_id = case.id if case is not None else incident.id
        context = {
            "customer": customer.context(),
            "lifetime_value": lifetime_value(customer),
            "recent_failures": recent_failures_in(self.world, customer_id, case_id, now),
        }
        amount = compute_amount(spec.amount, context)
        granted = self.ledger.offer(
            f"{incident.id}:comp:{customer_id}",
            case.id if case is not None else incident.id,
            customer_id,
            incident.id,
            spec.spec.kind,
            amount,
            f"incident {incident.spec} {incident.key}",
            spec.expires_in,
            now,
        )
        if granted is not None:
            incident.spent += granted.amount
        return granted
