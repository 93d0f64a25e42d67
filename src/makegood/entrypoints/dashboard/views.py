"""Presentation helpers for the dashboard templates: labels, times and the suggested next step."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from makegood.domain.compensation import ROLE_RANK

KIND_LABELS = {
    "case_opened": "Case opened",
    "failure_detected": "Failure detected",
    "state_changed": "State changed",
    "message_queued": "Message queued",
    "message_sent": "Message sent",
    "message_retry": "Message retried",
    "message_dead": "Message failed",
    "message_suppressed": "Message held back",
    "compensation_granted": "Compensation granted",
    "approval_requested": "Approval requested",
    "approval_approved": "Approval approved",
    "approval_rejected": "Approval rejected",
    "note": "Note",
    "reply_queued": "Reply to the customer",
    "assigned": "Owner changed",
    "collaborator_added": "Collaborator added",
    "collaborator_removed": "Collaborator removed",
    "survey_answered": "Survey answered",
    "sla_breached": "SLA breached",
    "late_arrival": "Arrived late",
    "resolution_requested": "Fix requested",
    "severity_raised": "Severity raised",
    "experiment_assigned": "Experiment arm",
    "call_requested": "Call the customer",
}


def label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind.replace("_", " ").capitalize())


def ago(at: datetime | None, now: datetime) -> str:
    if at is None:
        return "—"
    seconds = (now - at).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 90:
        text = f"{seconds:.0f}s"
    elif seconds < 5400:
        text = f"{seconds / 60:.0f} min"
    elif seconds < 172800:
        text = f"{seconds / 3600:.0f} h"
    else:
        text = f"{seconds / 86400:.0f} d"
    return f"in {text}" if future else f"{text} ago"


def money(value: Any, currency: str = "") -> str:
    amount = Decimal(str(value or 0))
    return f"{amount:,.2f} {currency}".strip()


MAX_GRANT = Decimal(100_000)  # as the API's GrantIn


def parse_amount(text: str) -> Decimal | str:
    """The amount typed into the grant form, or why it is not one (a sentence for the page)."""
    try:
        amount = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        return "The amount is not a number."
    if not amount.is_finite() or amount <= 0:
        return "The amount must be a positive number."
    if amount > MAX_GRANT:
        return f"The amount must be at most {MAX_GRANT:,}."
    if amount != amount.quantize(Decimal("0.01")):  # bounded above, so quantize is safe
        return "The amount can have at most two decimals."
    return amount.quantize(Decimal("0.01"))


def amount_or_none(text: str | None) -> Decimal | None:
    """A filter's amount, or None when it is empty or not an amount (an edited link)."""
    found = parse_amount(text) if text and text.strip() else None
    return found if isinstance(found, Decimal) else None


def suggestion(page: dict[str, Any], role: str, agent_limit: Decimal, now: datetime) -> str:
    """The next step a person should take on this case, in one sentence."""
    case = page["case"]
    pending = [c for c in page["compensations"] if c["status"] == "pending"]
    if pending:
        comp = pending[0]
        if ROLE_RANK.get(role, 0) >= ROLE_RANK[comp["required_role"]]:
            return (
                f"Decide the pending {comp['kind']} of {money(comp['amount'])}: "
                "approve it or reject it with a reason."
            )
        return f"A {comp['required_role']} must approve the pending {comp['kind']}; add a note."
    if not case["owner"] and case["needs_person"]:
        return "Take the case (assign it to yourself) so the customer has one person."
    if case["state"] in ("closed", "followed_up", "resolved"):
        return "Nothing to do unless the customer writes again; reopen if needed."
    if case["sla_due_at"] and case["sla_due_at"] < now:
        return "The SLA has run out: contact the customer now and resolve the case."
    granted = [c for c in page["compensations"] if c["status"] == "granted"]
    remaining = page["budget"]["remaining"]
    if case["severity"] == "critical" and not granted:
        offer = min(agent_limit, remaining)
        return (
            f"Call the customer first; then offer compensation (up to {money(offer)} "
            "within your limit and the budget) and resolve."
        )
    if not granted and remaining > 0:
        return "Apologise and consider a voucher within your limit, then resolve the case."
    return "Confirm the fix with the customer and resolve the case; a survey follows."
