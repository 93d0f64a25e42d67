"""Detection: match detectors on events, the failure they record, and its severity (severity
rules, repeat detectors). A new failure opens or joins its case, counts toward incidents, and
runs its playbook's first steps. Deadline detectors arm timers in `deadline.py` and record their
failures through `Detection.detect`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from makegood.domain import model as m
from makegood.domain.context import failure_context_in
from makegood.domain.event import Event, jsonable
from makegood.domain.incident import Incidents
from makegood.domain.lifecycle import ENGINE, Lifecycle
from makegood.domain.model import Customer, Failure, Subject
from makegood.domain.playbook import Playbooks
from makegood.domain.rules import CompiledDetector, CompiledPolicy, evaluate
from makegood.domain.world import World


class Detection:
    def __init__(
        self,
        policy: CompiledPolicy,
        world: World,
        lifecycle: Lifecycle,
        playbooks: Playbooks,
        incidents: Incidents,
    ) -> None:
        self.policy = policy
        self.world = world
        self.lifecycle = lifecycle
        self.playbooks = playbooks
        self.incidents = incidents
        self._repeat = [d for d in policy.detectors if d.spec.kind == "repeat"]

    def match(
        self,
        event: Event,
        customer: Customer,
        subject: Subject | None,
        context: Mapping[str, Any],
        analysis: Mapping[str, Any] | None,
        now: datetime,
    ) -> None:
        """Every match detector whose condition holds for the event records its failure."""
        for detector in self.policy.matchers_for(event.type):
            if evaluate(detector.when, context):
                self._on_match(detector, event, customer, subject, analysis, now)

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
        self.detect(
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

    def detect(
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
        """Record the detector's failure once per key; None if the key was taken."""
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
        case, rises = self.lifecycle.open_or_join(
            case, failure, customer.id, subject_key, now, repeat
        )
        self.world.add_failure(failure)
        self.lifecycle.log(
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
            self.lifecycle.log(
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
            self.playbooks.run(playbook, "detected", failure, case, now)
        if detector.spec.kind == "match" and not case.needs_person:
            self.playbooks.resolve_failure(failure, now)
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
        context = failure_context_in(self.world, failure, customer, subject, attributes, now)
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
