"""The things makegood remembers: customers, subjects (orders), timers, failures, cases,
timeline entries and compensations. Plain mutable dataclasses; stores persist them as they are.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

# Case states (PRODUCT.md, "Cases")
DETECTED = "detected"
ACKNOWLEDGED = "acknowledged"
RESOLVING = "resolving"
RESOLVED = "resolved"
FOLLOWED_UP = "followed_up"
CLOSED = "closed"
ESCALATED = "escalated"
REOPENED = "reopened"
CASE_STATES = (
    DETECTED,
    ACKNOWLEDGED,
    RESOLVING,
    RESOLVED,
    FOLLOWED_UP,
    CLOSED,
    ESCALATED,
    REOPENED,
)
OPEN_STATES = frozenset({DETECTED, ACKNOWLEDGED, RESOLVING, ESCALATED, REOPENED})

# Compensation statuses
GRANTED = "granted"
PENDING = "pending"  # waiting in the approvals queue
REJECTED = "rejected"

SEVERITY_RANK = {"minor": 0, "major": 1, "critical": 2}
SEVERITY_BY_RANK = ("minor", "major", "critical")


def stable_id(prefix: str, *parts: str) -> str:
    """A short id derived from its natural key, so a replay finds the same ids."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).hexdigest()
    return f"{prefix}-{digest}"


def raise_severity(severity: str, by: int = 1) -> str:
    return SEVERITY_BY_RANK[min(SEVERITY_RANK[severity] + by, 2)]


def max_severity(a: str, b: str) -> str:
    return a if SEVERITY_RANK[a] >= SEVERITY_RANK[b] else b


@dataclass(slots=True)
class Customer:
    id: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    locale: str = ""  # empty until a profile or the customer's own writing tells
    tier: str = "standard"
    lifetime_value: Decimal = Decimal(0)
    channel: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    def context(self) -> dict[str, Any]:
        """What expressions and templates may see (no e-mail address or phone number)."""
        return {
            "id": self.id,
            "name": self.name,
            "locale": self.locale,
            "tier": self.tier,
            "lifetime_value": self.lifetime_value,
            **self.attributes,
        }


@dataclass(slots=True)
class Subject:
    """What a failure is about, usually an order; `seen`: when each event type occurred."""

    id: str
    customer_id: str
    attributes: dict[str, Any] = field(default_factory=dict)
    seen: dict[str, datetime] = field(default_factory=dict)

    def context(self) -> dict[str, Any]:
        return {"id": self.id, **self.attributes}


@dataclass(slots=True)
class Timer:
    key: str  # unique: arming the same timer twice is a no-op
    due_at: datetime
    kind: str  # deadline | follow_up | survey_expiry | sla
    customer_id: str
    subject_id: str | None = None
    case_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Failure:
    id: str
    key: str
    detector: str
    customer_id: str
    subject_id: str | None
    case_id: str
    type: str
    category: str
    severity: str
    occurred_at: datetime  # when the failure happened (a deadline, an event)
    detected_at: datetime
    evidence: dict[str, Any] = field(default_factory=dict)
    lateness_s: float | None = None
    resolved_at: datetime | None = None
    playbook: str | None = None

    @property
    def detection_latency_s(self) -> float:
        return (self.detected_at - self.occurred_at).total_seconds()


@dataclass(slots=True)
class Case:
    id: str
    customer_id: str
    subject_key: str  # the subject id, or "" for what concerns the customer as a whole
    state: str
    severity: str
    category: str
    opened_at: datetime
    updated_at: datetime
    needs_person: bool = False
    owner: str | None = None
    collaborators: list[str] = field(default_factory=list)
    sla_due_at: datetime | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    survey_score: int | None = None
    reopened: int = 0
    follow_up: bool = False  # a survey is wanted once the case is resolved
    experiment: dict[str, str] = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


@dataclass(slots=True)
class Incident:
    """Many customers failed at once for one reason: one record, one proactive recovery.

    `signals` holds the recent failures (at, customer, subject) that count toward declaring it;
    `affected` every customer told, with the subjects concerned."""

    id: str
    spec: str
    key: str
    status: str  # forming | open | resolved
    first_at: datetime
    last_at: datetime
    declared_at: datetime | None = None
    resolved_at: datetime | None = None
    signals: list[list[str]] = field(default_factory=list)  # [iso time, customer, subject]
    affected: dict[str, list[str]] = field(default_factory=dict)  # customer -> subjects
    stage: int = 0  # 1 declared, 2 resolved
    source: str = "cluster"  # cluster | alert
    messages: int = 0
    spent: Decimal = Decimal(0)


@dataclass(slots=True)
class TimelineEntry:
    case_id: str
    at: datetime
    kind: str
    actor: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Compensation:
    id: str
    key: str  # unique: one compensation per failure and step, whatever is replayed
    case_id: str
    customer_id: str
    failure_id: str
    kind: str  # voucher | credit | refund
    amount: Decimal
    currency: str
    status: str  # granted | pending | rejected
    required_role: str  # auto | agent | lead | admin
    reason: str
    created_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = None
    code: str | None = None
    expires_at: datetime | None = None


def sla_key(case: Case) -> str:
    """One SLA timer per case, round (reopened) and severity: a raised severity re-arms it."""
    return f"sla:{case.id}:{case.reopened}:{case.severity}"


def sla_timer(case: Case, due: datetime) -> Timer:
    """The timer that escalates `case` when its SLA runs out at `due`."""
    return Timer(
        sla_key(case),
        due,
        "sla",
        case.customer_id,
        None,
        case.id,
        {"severity": case.severity},
    )
