"""A customer's whole record for the desk: cases, messages, compensation, surveys, value."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from makegood.adapters.sql.customer_page import customer_page
from makegood.entrypoints.api.deps import Reader, Svc
from makegood.entrypoints.api.models import CaseOut, CompensationOut, Problem

router = APIRouter(prefix="/v1", tags=["customers"])


class SentMessage(BaseModel):
    id: str
    case_id: str | None
    channel: str
    template: str
    locale: str
    status: str
    created_at: datetime
    sent_at: datetime | None


class ReceivedMessage(BaseModel):
    id: str
    at: datetime
    subject_id: str | None
    text: str
    channel: str | None


class SurveyAnswer(BaseModel):
    id: str
    at: datetime
    score: int | None
    kind: str
    case_id: str | None
    comment: str | None


class Spent(BaseModel):
    amount: Decimal
    count: int


class CustomerDetail(BaseModel):
    customer: dict[str, Any]
    lifetime_value: Decimal
    compensation_30d: Spent = Field(description="Compensation granted in the last 30 days")
    cases: list[CaseOut]
    messages_sent: list[SentMessage]
    messages_received: list[ReceivedMessage]
    compensations: list[CompensationOut]
    surveys: list[SurveyAnswer]
    truncated: bool = Field(description="A list held more than 500 rows; the newest are shown")


@router.get(
    "/customers/{customer_id:path}",
    response_model=CustomerDetail,
    responses={404: {"model": Problem, "description": "No such customer"}},
)
def get_customer(customer_id: str, who: Reader, services: Svc) -> dict[str, Any]:
    """Every case, message, compensation and survey answer of one customer, newest first,
    with their lifetime value and the compensation granted them in the last 30 days."""
    app = services.app
    with app.store.engine.connect() as conn:
        return customer_page(conn, customer_id, app.clock.now())
