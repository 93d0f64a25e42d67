"""Approvals (compensation waiting for a role), incidents and the recovery numbers."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query

from makegood.adapters.sql import dashboard_queries as dq
from makegood.adapters.sql import queries
from makegood.domain.errors import NotFound
from makegood.entrypoints.api.deps import Reader, Services, Svc, actor_of
from makegood.entrypoints.api.models import (
    ApprovalPage,
    CompensationOut,
    DecideIn,
    DecideOut,
    DeclareIn,
    IncidentPage,
    Problem,
    RejectIn,
)

router = APIRouter(prefix="/v1", tags=["approvals"])
ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": Problem, "description": "The approval needs a higher role"},
    404: {"model": Problem, "description": "No such approval"},
    409: {"model": Problem, "description": "Decided already, or a budget would be exceeded"},
}


def _out(comp: Any) -> dict[str, Any]:
    return {name: getattr(comp, name) for name in CompensationOut.model_fields}


def _owner_of(services: Services, compensation_id: str) -> tuple[str, str, str]:
    with services.app.store.engine.connect() as conn:
        return dq.compensation_owner(conn, compensation_id)


Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[
    str | None, Query(max_length=1000, description="`next_cursor` of the previous page")
]
PAGE_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": Problem, "description": "A bad parameter, or a cursor this list did not give"}
}


Amount = Annotated[
    str | None,
    Query(
        pattern=r"^[0-9]{1,7}(\.[0-9]{1,2})?$",
        max_length=10,
        description="An amount, inclusive (e.g. 25 or 25.50)",
    ),
]


@router.get("/approvals", response_model=ApprovalPage, responses=PAGE_ERRORS)
def approvals(
    who: Reader,
    services: Svc,
    limit: Limit = 50,
    cursor: Cursor = None,
    kind: Annotated[Literal["case", "incident"] | None, Query()] = None,
    min_amount: Amount = None,
    max_amount: Amount = None,
) -> dict[str, Any]:
    """Compensation waiting for a person, oldest first, with the role each one needs and the
    customer's name and tier: a case's, or an incident's (`incident_id`; `case_state` null
    when the customer has no case). Filtered by `kind` and amount; a page at a time; `total`
    counts all that match."""
    filters = {
        "kind": kind,
        "min_amount": Decimal(min_amount) if min_amount else None,
        "max_amount": Decimal(max_amount) if max_amount else None,
    }
    with services.app.store.engine.connect() as conn:
        return dq.pending_approvals(conn, limit, cursor, filters)


@router.post("/approvals/decide", response_model=DecideOut, responses=ERRORS)
def decide_many(body: DecideIn, who: Reader, services: Svc) -> dict[str, Any]:
    """Approve or reject several at once, with one reason (required to reject). Each is
    decided on its own: one refused (a role, a budget, decided already) does not stop the
    others; `outcome` says what became of each id."""
    if body.decision == "reject" and not body.reason.strip():
        raise HTTPException(
            422,
            [
                {
                    "loc": ["body", "reason"],
                    "msg": "a rejection needs a reason",
                    "type": "value_error",
                }
            ],
        )
    with services.app.store.engine.connect() as conn:
        owners = dq.compensation_owners(conn, body.ids)
    outcome = services.actions.decide_many(
        owners, actor_of(who), body.decision == "approve", body.reason
    )
    known = {o[0] for o in owners}
    missing = {i: "refused: no such approval" for i in body.ids if i not in known}
    return {"outcome": {**outcome, **missing}}


@router.post(
    "/approvals/{compensation_id}/approve", response_model=CompensationOut, responses=ERRORS
)
def approve(compensation_id: str, who: Reader, services: Svc) -> dict[str, Any]:
    """Grant it, if the caller's role reaches the one required and the budgets still hold."""
    case_id, customer_id, cause = _owner_of(services, compensation_id)
    actions = services.actions
    return _out(actions.approve(case_id, compensation_id, actor_of(who), customer_id, cause))


@router.post(
    "/approvals/{compensation_id}/reject", response_model=CompensationOut, responses=ERRORS
)
def reject(compensation_id: str, body: RejectIn, who: Reader, services: Svc) -> dict[str, Any]:
    """Refuse it; the reason goes on the case's timeline."""
    case_id, customer_id, cause = _owner_of(services, compensation_id)
    actor = actor_of(who)
    return _out(
        services.actions.reject(case_id, compensation_id, actor, body.reason, customer_id, cause)
    )


@router.get("/incidents", response_model=IncidentPage, tags=["incidents"], responses=PAGE_ERRORS)
def incidents(
    who: Reader, services: Svc, limit: Limit = 50, cursor: Cursor = None
) -> dict[str, Any]:
    """Declared incidents, newest first: key, status, affected customers, messages, spend, and
    how long from the first failure to declaring it and to the first proactive message."""
    with services.app.store.engine.connect() as conn:
        return dq.incidents_page(conn, limit, cursor)


@router.get(
    "/incidents/{incident_id}", response_model=dict[str, Any], tags=["incidents"], responses=ERRORS
)
def incident(incident_id: str, who: Reader, services: Svc) -> dict[str, Any]:
    """One incident with the customers it reached and its timeline."""
    with services.app.store.engine.connect() as conn:
        try:
            return queries.incident_detail(conn, incident_id)
        except NotFound:
            raise HTTPException(status_code=404, detail=f"no incident {incident_id!r}") from None


@router.post(
    "/incidents",
    status_code=201,
    response_model=dict[str, Any],
    tags=["incidents"],
    responses=ERRORS,
)
def declare_incident(body: DeclareIn, who: Reader, services: Svc) -> dict[str, Any]:
    """Declare an incident by hand (lead or admin): the policy's incident `spec` for `key`
    (e.g. an area). The same proactive recovery as a detected one: everyone affected is told
    and offered the incident's compensation. An open one of the same kind and key is returned
    as it is."""
    if services.app.policy.incident(body.spec) is None:
        raise HTTPException(404, f"the policy has no incident {body.spec!r}")
    incident_id = services.actions.declare_incident(actor_of(who), body.spec, body.key.strip())
    return incident(incident_id, who, services)


@router.post(
    "/incidents/{incident_id}/resolve",
    response_model=dict[str, Any],
    tags=["incidents"],
    responses=ERRORS,
)
def resolve_incident(incident_id: str, who: Reader, services: Svc) -> dict[str, Any]:
    """Resolve an open incident by hand (lead or admin); 409 if it is not open."""
    services.actions.resolve_incident(actor_of(who), incident_id)
    return incident(incident_id, who, services)


@router.get("/metrics", response_model=dict[str, Any], tags=["metrics"])
def recovery_metrics(who: Reader, services: Svc) -> dict[str, Any]:
    """Time to detect/acknowledge/resolve, funnel, spend, satisfaction, failures over time."""
    with services.app.store.engine.connect() as conn:
        return dq.metrics(conn, services.app.policy.policy.budgets)
