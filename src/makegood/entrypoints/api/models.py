"""Request and response bodies of the HTTP API (what /openapi.json documents)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, WithJsonSchema

from makegood.adapters.renderer import shipped_templates
from makegood.adapters.templates import TemplateRenderer
from makegood.domain.event import (
    BUILTIN,
    DATE_TIME,
    MAX_ID,
    MAX_TYPE,
    NO_NUL,
    NOT_BLANK,
    TYPE_PATTERN,
    value_schema,
)
from makegood.domain.limits import DEFAULT_LIMITS


def event_schema() -> dict[str, Any]:
    """One event as JSON Schema: a custom type with any attributes, or a built-in type with
    its attributes typed. A subset of what `parse_event` accepts: dates are documented from
    1971 to 2025 (the policy's default range starts at 1970 and ends a year from now)."""
    ident = {"type": "string", "minLength": 1, "maxLength": MAX_ID, "pattern": NOT_BLANK}
    text = {"type": "string", "pattern": NO_NUL, "maxLength": DEFAULT_LIMITS.max_chars}
    scalar = {"anyOf": [{"type": "null"}, {"type": "boolean"}, {"type": "number"}, text]}
    names = {"pattern": NO_NUL, "maxLength": 100}
    value = {
        "anyOf": [
            scalar,
            {"type": "array", "items": scalar},
            {"type": "object", "propertyNames": names, "additionalProperties": scalar},
        ]
    }
    envelope: dict[str, Any] = {
        "id": {**ident, "examples": ["evt-1"]},
        "occurred_at": {
            "type": "string",
            "pattern": DATE_TIME,
            "description": "ISO 8601 with an offset, within the policy's accepted range",
            "examples": ["2025-11-24T12:00:00Z"],
        },
        "customer_id": {**ident, "examples": ["c-1"]},
        "subject_id": {"anyOf": [ident, {"type": "null"}], "examples": ["o-1"]},
    }

    def variant(type_: dict[str, Any], attributes: dict[str, Any], subject: bool | None) -> Any:
        required = ["id", "type", "occurred_at", "customer_id"]
        required += ["subject_id"] * bool(subject)
        required += ["attributes"] * bool(attributes.get("required"))
        if subject:
            properties = {**envelope, "subject_id": ident}
        else:
            properties = dict(envelope)
        shape = {
            "type": "object",
            "properties": {**properties, "type": type_, "attributes": attributes},
            "required": required,
        }
        if subject is None:  # custom types: a field outside the envelope becomes an attribute
            return {**shape, "propertyNames": names, "additionalProperties": value}
        return {**shape, "additionalProperties": False}  # built-in: under attributes only

    def attributes(required: dict[str, Any], optional: dict[str, Any]) -> dict[str, Any]:
        checks = {**required, **optional}
        return {
            "type": "object",
            "properties": {name: value_schema(check) for name, check in checks.items()},
            "required": list(required),
            "propertyNames": names,
            "additionalProperties": value,
        }

    custom = variant(
        {
            "type": "string",
            "pattern": TYPE_PATTERN.pattern,
            "maxLength": MAX_TYPE,
            "not": {"enum": sorted(BUILTIN)},
            "examples": ["booking.missed"],
        },
        {"type": "object", "propertyNames": names, "additionalProperties": value},
        subject=None,
    )
    builtin = [
        variant({"const": name}, attributes(required, optional), subject)
        for name, (subject, required, optional) in BUILTIN.items()
    ]
    return {
        "title": "EventIn",
        "description": "One event. Fields outside the envelope are kept under `attributes`.",
        "anyOf": [custom, *builtin],
    }


class EventResult(BaseModel):
    index: int
    id: str | None
    status: Literal["accepted", "duplicate", "conflict", "rejected"]
    field: str | None = None
    reason: str | None = None


class IngestOut(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    conflicts: int = 0  # ids already used by a different event: quarantined, not acted on
    results: list[EventResult]


class Problem(BaseModel):
    detail: Any


class CaseOut(BaseModel):
    id: str
    customer_id: str
    subject_key: str
    state: str
    severity: str
    category: str
    opened_at: datetime
    updated_at: datetime
    needs_person: bool
    owner: str | None
    collaborators: list[str]
    sla_due_at: datetime | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    survey_score: int | None
    reopened: int
    follow_up: bool
    experiment: dict[str, str]


class Paged(BaseModel):
    total: int = Field(description="How many items the list has in all, across every page")
    limit: int
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page"
    )


class CasePage(Paged):
    items: list[CaseOut]
    offset: int


class QueueItem(CaseOut):
    customer_name: str | None
    customer_tier: str


class QueuePage(Paged):
    items: list[QueueItem]


class CompensationOut(BaseModel):
    id: str
    case_id: str
    customer_id: str
    failure_id: str
    kind: str
    amount: Decimal
    currency: str
    status: Literal["granted", "pending", "rejected"]
    required_role: str
    reason: str
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    code: str | None
    expires_at: datetime | None


class ApprovalOut(CompensationOut):
    category: str
    severity: str
    case_state: str | None = Field(
        description="null for an incident's compensation to a "
        "customer without a case (`case_id` is the incident's id)"
    )
    incident_id: str | None
    incident_key: str | None
    customer_name: str | None = None
    customer_tier: str = "standard"


class ApprovalPage(Paged):
    items: list[ApprovalOut]


class IncidentPage(Paged):
    items: list[dict[str, Any]]


class TimelineOut(BaseModel):
    at: datetime
    kind: str
    actor: str
    data: dict[str, Any]


class CaseDetail(BaseModel):
    case: CaseOut
    customer: dict[str, Any]
    failures: list[dict[str, Any]]
    compensations: list[CompensationOut]
    messages: list[dict[str, Any]]
    timeline: list[TimelineOut]
    history: list[dict[str, Any]]
    budget: dict[str, Any]


# text a person types: anything but a NUL character, which no PostgreSQL text column can hold;
# what a person writes: that, with at least one visible character
PLAIN = NO_NUL
WRITTEN = NOT_BLANK
# an amount of money: a whole number, or a decimal text with at most two places
AMOUNT = WithJsonSchema(
    {
        "anyOf": [
            {"type": "integer", "minimum": 1, "maximum": 100_000},
            {
                "type": "string",
                "pattern": r"^([1-9][0-9]{0,4}(\.[0-9]{1,2})?|0\.([1-9][0-9]?|0[1-9]))$",
            },
        ],
        "description": "More than 0 and at most 100000, with at most two decimal places",
    }
)


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=5000, pattern=WRITTEN)


class AssignIn(BaseModel):
    owner: str | None = Field(default=None, max_length=100, pattern=PLAIN)


class CollaboratorIn(BaseModel):
    name: str = Field(min_length=1, max_length=100, pattern=WRITTEN)


class ResolveIn(BaseModel):
    note: str | None = Field(default=None, max_length=5000, pattern=PLAIN)


class GrantIn(BaseModel):
    kind: Literal["voucher", "credit", "refund"]
    amount: Annotated[Decimal, Field(gt=0, le=100_000, decimal_places=2), AMOUNT]
    reason: str = Field(default="", max_length=500, pattern=PLAIN)
    idempotency_key: str | None = Field(
        default=None,
        max_length=100,
        pattern=PLAIN,
        description="Retries with the same key grant once",
    )


class RejectIn(BaseModel):
    reason: str = Field(min_length=1, max_length=5000, pattern=WRITTEN)


def _shipped_macros(schema: dict[str, Any]) -> None:
    """Document the shipped macros as the choices (read when the document is made, not at
    import); an installation's own ``reply_*`` templates are accepted too."""
    found = TemplateRenderer([shipped_templates()]).templates()
    schema.pop("pattern", None)
    schema["enum"] = [name for name in found if name.startswith("reply_")]


IDEMPOTENCY_KEY = Field(
    default=None, max_length=100, pattern=PLAIN, description="Retries with the same key send once"
)


class FreeTextReply(BaseModel):
    template: Literal["reply"] = Field(default="reply", description="Free text")
    text: str = Field(min_length=1, max_length=5000, pattern=WRITTEN, description="The words")
    idempotency_key: str | None = IDEMPOTENCY_KEY


class MacroReply(BaseModel):
    template: str = Field(
        max_length=100,
        pattern=r"^reply_[A-Za-z0-9_]{1,80}$",
        json_schema_extra=_shipped_macros,
        description="A macro: a `reply_*` template (GET /v1/reply-templates)",
    )
    text: str = Field(
        default="", max_length=5000, pattern=PLAIN, description="A line the macro adds"
    )
    idempotency_key: str | None = IDEMPOTENCY_KEY


ReplyIn = FreeTextReply | MacroReply


class ReplyPreview(BaseModel):
    template: str
    locale: str
    channel: str
    subject: str
    text: str


class ReplyOut(BaseModel):
    id: str
    template: str
    locale: str
    channel: str
    status: str


APPROVAL_IDS = Field(min_length=1, max_length=200, description="The pending compensations' ids")


class ApproveMany(BaseModel):
    ids: list[Annotated[str, Field(min_length=1, max_length=200, pattern=PLAIN)]] = APPROVAL_IDS
    decision: Literal["approve"]
    reason: str = Field(default="", max_length=5000, pattern=PLAIN, description="Why (optional)")


class RejectMany(BaseModel):
    ids: list[Annotated[str, Field(min_length=1, max_length=200, pattern=PLAIN)]] = APPROVAL_IDS
    decision: Literal["reject"]
    reason: str = Field(min_length=1, max_length=5000, pattern=WRITTEN, description="Why")


DecideIn = Annotated[ApproveMany | RejectMany, Field(discriminator="decision")]


class DecideOut(BaseModel):
    outcome: dict[str, str] = Field(
        description="Each id's new status (granted, rejected), or `refused: <why>`"
    )


class DeclareIn(BaseModel):
    spec: str = Field(
        min_length=1, max_length=100, pattern=PLAIN, description="The policy's incident name"
    )
    key: str = Field(
        min_length=1, max_length=300, pattern=WRITTEN, description="Its key's value (an area…)"
    )
