"""What policy expressions and message templates see. Built from domain objects, no I/O."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from makegood.domain import model as m
from makegood.domain.event import JSON_PLAIN, Event, jsonable, parse_datetime
from makegood.domain.model import Case, Compensation, Customer, Failure, Subject
from makegood.domain.money import to_decimal
from makegood.domain.policy import Business
from makegood.domain.world import World

RECENT = timedelta(days=30)  # the window of `recent_failures` and `earlier_compensation`

NO_ANALYSIS: Mapping[str, Any] = {
    "language": None,
    "sentiment": None,
    "label": None,
    "cues": {},
    "failure_type": None,
    "category": None,
    "category_confidence": None,
}


def event_context(
    event: Event,
    customer: Customer,
    subject: Subject | None,
    analysis: Mapping[str, Any] | None = None,
    reads: Collection[str] | None = None,
) -> dict[str, Any]:
    """What a detector's expressions see of an event. `reads`: the names the expressions that
    will see it read (`Expr.names`; None: any). An expression reads nothing else of a context,
    so the copies of the customer's profile and the subject are made only when one of them
    is read; what is read is the same either way."""
    context = {
        "id": event.id,
        "type": event.type,
        "occurred_at": event.occurred_at,
        "customer_id": event.customer_id,
        "subject_id": event.subject_id,
        "attributes": event.attributes,
    }
    if reads is None:
        context["customer"] = customer.context()
        context["order"] = subject.context() if subject else {}
        context.update(analysis or NO_ANALYSIS)
        return context
    if "customer" in reads:
        context["customer"] = customer.context()
    if "order" in reads:
        context["order"] = subject.context() if subject else {}
    analysed = analysis or NO_ANALYSIS
    for name in reads:  # the analysis goes last: what it names, it gives
        if name in analysed:
            context[name] = analysed[name]
    return context


def lateness_of(failure: Failure, now: datetime, reference: datetime | None) -> timedelta | None:
    if failure.lateness_s is not None:
        return timedelta(seconds=failure.lateness_s)
    if reference is not None:
        return now - reference
    return None


def failure_context(
    failure: Failure,
    customer: Customer,
    subject: Subject | None,
    lateness: timedelta | None,
    earlier: tuple[Decimal, int],
    attributes: Mapping[str, Any],
    recent_failures: int = 0,
) -> dict[str, Any]:
    order = subject.context() if subject else {}
    analysis = failure.evidence.get("analysis") or {}
    return {
        "failure": {
            "category": failure.category,
            "type": failure.type,
            "severity": failure.severity,
            "detector": failure.detector,
        },
        "severity": failure.severity,
        "category": failure.category,
        "customer": customer.context(),
        "order": order,
        "lateness": lateness,
        "order_value": order.get("value"),
        "item_value": attributes.get("item_value"),
        "earlier_compensation": earlier[0],
        "earlier_compensations": earlier[1],
        "attributes": attributes,
        "cues": analysis.get("cues") or {},
        "sentiment": analysis.get("sentiment"),
        "lifetime_value": lifetime_value(customer),
        "recent_failures": recent_failures,
    }


def lifetime_value(customer: Customer) -> Decimal | None:
    """The profile's lifetime value as a number (a profile event may carry it as text)."""
    value = customer.lifetime_value
    if type(value) is Decimal:
        return value
    try:
        return to_decimal(value)
    except (TypeError, ArithmeticError):
        return None


def recent_failures_in(world: World, customer_id: str, case_id: str, now: datetime) -> int:
    """How many other cases of the customer had a failure detected in the last 30 days (a
    failed order counts once, however many detectors saw it)."""
    since = now - RECENT
    return len(
        {
            f.case_id
            for f in world.failures_of_customer(customer_id)
            if f.case_id != case_id and since < f.detected_at <= now
        }
    )


def failure_context_in(
    world: World,
    failure: Failure,
    customer: Customer,
    subject: Subject | None,
    attributes: Mapping[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """`failure_context` with what the world knows: the lateness so far and the compensation
    granted to the customer in the last 30 days."""
    reference = failure.evidence.get("reference")
    lateness = lateness_of(
        failure, now, parse_datetime(reference, "reference") if reference else None
    )
    since = now - RECENT
    total, count = Decimal(0), 0  # granted in the window: summed in order, as `sum` would
    for c in world.compensations_of(customer.id):
        if c.status == m.GRANTED and c.decided_at is not None and c.decided_at > since:
            total += c.amount
            count += 1
    recent = recent_failures_in(world, customer.id, failure.case_id, now)
    return failure_context(failure, customer, subject, lateness, (total, count), attributes, recent)


def voice_context(
    world: World,
    case: Case,
    customer: Customer,
    failure: Failure | None,
    subject: Subject | None,
    now: datetime,
) -> dict[str, Any]:
    """What the policy's `tones` and `contact` rules see for a message: the failure's context,
    or for a message about no failure in particular (a survey, an incident notice) the case's
    severity and category with the same customer figures."""
    if failure is not None:
        attributes = failure.evidence.get("attributes") or {}
        return failure_context_in(world, failure, customer, subject, attributes, now)
    return {
        "severity": case.severity,
        "category": case.category,
        "customer": customer.context(),
        "order": subject.context() if subject else {},
        "lifetime_value": lifetime_value(customer),
        "recent_failures": recent_failures_in(world, customer.id, case.id, now),
    }


def message_context(
    business: Business,
    customer: Customer,
    case: Case,
    failure: Failure | None,
    subject: Subject | None,
    compensation: Compensation | None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The template context every message gets (JSON-able; no e-mail address or phone).

    Built already in JSON-able form (rather than built, then walked whole by `jsonable`):
    each value goes through `jsonable` where it is read, unless it is a plain value, so the
    result is what `jsonable` of the plain dict gives (tests/unit/test_decision_fast_paths.py
    keeps that definition and compares the two on random input)."""
    order = None
    if subject is not None:
        attributes = subject.attributes
        order = {
            "id": _json(subject.id),
            "value": _json(attributes.get("value")),
            "currency": _json(attributes.get("currency", business.currency)),
        }
    fail = None
    if failure is not None:
        fail = {
            "category": _json(failure.category),
            "type": _json(failure.type),
            "severity": _json(failure.severity),
            "lateness_minutes": round(failure.lateness_s / 60) if failure.lateness_s else None,
            "evidence": jsonable(failure.evidence),
        }
    comp = None
    if compensation is not None:
        expires_at = compensation.expires_at
        comp = {
            "kind": _json(compensation.kind),
            "amount": _json(compensation.amount),
            "currency": _json(compensation.currency),
            "code": _json(compensation.code),
            "expires_at": expires_at.isoformat()
            if type(expires_at) is datetime
            else _json(expires_at),
        }
    context = {
        "customer": {
            "name": _json(customer.name),
            "locale": _json(customer.locale),
            "tier": _json(customer.tier),
        },
        "case": {
            "id": _json(case.id),
            "category": _json(case.category),
            "severity": _json(case.severity),
        },
        "failure": fail,
        "order": order,
        "compensation": comp,
        "survey_url": None,
        "business": {"name": _json(business.name), "support_email": _json(business.support_email)},
    }
    if extra:
        for key, value in extra.items():
            context[key if type(key) is str else str(key)] = _json(value)
    return context


def _json(value: Any) -> Any:
    """`jsonable(value)`, without the call for a plain value."""
    return value if type(value) in JSON_PLAIN else jsonable(value)
