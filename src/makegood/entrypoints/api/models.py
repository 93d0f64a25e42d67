"""Request and response bodies of the HTTP API (what /openapi.json documents)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class EventIn(BaseModel):
    """One event. Fields outside the envelope are kept under `attributes`."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(max_length=200, examples=["evt-1"])
    type: str = Field(examples=["order.placed"])
    occurred_at: str = Field(examples=["2026-11-24T12:00:00Z"])
    customer_id: str = Field(max_length=200, examples=["c-1"])
    subject_id: str | None = Field(default=None, max_length=200, examples=["o-1"])
    attributes: dict[str, Any] = Field(default_factory=dict)


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


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=5000)


class AssignIn(BaseModel):
    owner: str | None = Field(default=None, max_length=100)


class CollaboratorIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class ResolveIn(BaseModel):
    note: str | None = Field(default=None, max_length=5000)


class GrantIn(BaseModel):
    kind: Literal["voucher", "credit", "refund"]
    amount: Decimal = Field(gt=0, le=100_000, decimal_places=2)
    reason: str = Field(default="", max_length=500)
    idempotency_key: str | None = Field(
        default=None, max_length=100, description="Retries with the same key grant once"
    )


class RejectIn(BaseModel):
    reason: str = Field(min_length=1, max_length=5000)
