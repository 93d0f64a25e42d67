"""Domain objects to table rows and back."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from makegood.domain.event import jsonable, parse_datetime
from makegood.domain.message import OutboxMessage
from makegood.domain.model import (
    Case,
    Compensation,
    Customer,
    Failure,
    Incident,
    Subject,
    Timer,
)


def customer_row(c: Customer) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "email": c.email,
        "phone": c.phone,
        "locale": c.locale,
        "tier": c.tier,
        "lifetime_value": Decimal(c.lifetime_value),
        "channel": c.channel,
        "attributes": jsonable(c.attributes),
    }


def customer_of(r: Any) -> Customer:
    return Customer(
        r.id,
        r.name,
        r.email,
        r.phone,
        r.locale,
        r.tier,
        r.lifetime_value,
        r.channel,
        dict(r.attributes),
    )


def subject_row(s: Subject) -> dict[str, Any]:
    return {
        "id": s.id,
        "customer_id": s.customer_id,
        "attributes": s.attributes,  # written by the JSON column's encoder (`json_default`)
        "seen": s.seen,
    }


def subject_of(r: Any) -> Subject:
    attributes = dict(r.attributes)
    for key in ("promised_at", "eta"):  # the typed attributes of built-in order events
        if isinstance(attributes.get(key), str):
            attributes[key] = parse_datetime(attributes[key], key)
    if isinstance(attributes.get("value"), str):
        attributes["value"] = Decimal(attributes["value"])
    seen = {k: datetime.fromisoformat(v) for k, v in r.seen.items()}
    return Subject(r.id, r.customer_id, attributes, seen)


def timer_row(t: Timer) -> dict[str, Any]:
    return {
        "key": t.key,
        "due_at": t.due_at,
        "kind": t.kind,
        "customer_id": t.customer_id,
        "subject_id": t.subject_id,
        "case_id": t.case_id,
        "data": jsonable(t.data),
    }


def timer_of(r: Any) -> Timer:
    return Timer(r.key, r.due_at, r.kind, r.customer_id, r.subject_id, r.case_id, dict(r.data))


CASE_FIELDS = (
    "id",
    "customer_id",
    "subject_key",
    "state",
    "severity",
    "category",
    "opened_at",
    "updated_at",
    "needs_person",
    "owner",
    "collaborators",
    "sla_due_at",
    "acknowledged_at",
    "resolved_at",
    "closed_at",
    "survey_score",
    "reopened",
    "follow_up",
    "experiment",
)


def case_row(c: Case) -> dict[str, Any]:
    return {f: getattr(c, f) for f in CASE_FIELDS}


def case_of(r: Any) -> Case:
    values = {f: getattr(r, f) for f in CASE_FIELDS}
    values["collaborators"] = list(values["collaborators"])
    values["experiment"] = dict(values["experiment"])
    return Case(**values)


FAILURE_FIELDS = (
    "id",
    "key",
    "detector",
    "customer_id",
    "subject_id",
    "case_id",
    "type",
    "category",
    "severity",
    "occurred_at",
    "detected_at",
    "evidence",
    "lateness_s",
    "resolved_at",
    "playbook",
)


def failure_row(f: Failure) -> dict[str, Any]:
    row = {name: getattr(f, name) for name in FAILURE_FIELDS}
    row["evidence"] = jsonable(f.evidence)
    return row


def failure_of(r: Any) -> Failure:
    values = {name: getattr(r, name) for name in FAILURE_FIELDS}
    values["evidence"] = dict(values["evidence"])
    return Failure(**values)


COMPENSATION_FIELDS = (
    "id",
    "key",
    "case_id",
    "customer_id",
    "failure_id",
    "kind",
    "amount",
    "currency",
    "status",
    "required_role",
    "reason",
    "created_at",
    "decided_at",
    "decided_by",
    "code",
    "expires_at",
)


def compensation_row(c: Compensation) -> dict[str, Any]:
    return {name: getattr(c, name) for name in COMPENSATION_FIELDS}


def compensation_of(r: Any) -> Compensation:
    return Compensation(**{name: getattr(r, name) for name in COMPENSATION_FIELDS})


OUTBOX_FIELDS = (
    "id",
    "key",
    "case_id",
    "customer_id",
    "channel",
    "template",
    "locale",
    "recipient",
    "context",
    "created_at",
    "status",
    "attempts",
    "next_attempt_at",
    "last_error",
    "sent_at",
)


def outbox_row(o: OutboxMessage) -> dict[str, Any]:
    row = {name: getattr(o, name) for name in OUTBOX_FIELDS}
    row["context"] = o.context  # written by the JSON column's encoder (`json_default`)
    row["next_attempt_at"] = o.next_attempt_at or o.created_at
    return row


def outbox_of(r: Any) -> OutboxMessage:
    return OutboxMessage(**{name: getattr(r, name) for name in OUTBOX_FIELDS})


INCIDENT_FIELDS = (
    "id",
    "spec",
    "key",
    "status",
    "first_at",
    "last_at",
    "declared_at",
    "resolved_at",
    "signals",
    "affected",
    "stage",
    "source",
    "messages",
    "spent",
)


def incident_row(i: Incident) -> dict[str, Any]:
    return {name: getattr(i, name) for name in INCIDENT_FIELDS}


def incident_of(r: Any) -> Incident:
    values = {name: getattr(r, name) for name in INCIDENT_FIELDS}
    values["signals"] = [list(s) for s in values["signals"]]
    values["affected"] = {k: list(v) for k, v in values["affected"].items()}
    return Incident(**values)
