"""Cases: the list, the queue, one case's story, and what people do to a case."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from makegood.adapters.sql import dashboard_queries as dq
from makegood.adapters.sql.auth import Principal
from makegood.entrypoints.api.approvals import PAGE_ERRORS, Cursor, Limit
from makegood.entrypoints.api.deps import Reader, Services, Svc, actor_of
from makegood.entrypoints.api.models import (
    AssignIn,
    CaseDetail,
    CasePage,
    CollaboratorIn,
    CompensationOut,
    GrantIn,
    NoteIn,
    Problem,
    QueuePage,
    ResolveIn,
)

router = APIRouter(prefix="/v1", tags=["cases"])
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such case"},
    409: {"model": Problem, "description": "The action does not apply to the case as it is"},
}


def detail(services: Services, case_id: str) -> dict[str, Any]:
    app = services.app
    with app.store.engine.connect() as conn:
        return dq.case_page(conn, case_id, app.policy.policy.budgets, app.clock.now())


Severity = Literal["minor", "major", "critical"]
Sort = Literal["priority", "newest", "oldest", "sla_due", "updated"]
Search = Annotated[
    str | None,
    Query(
        max_length=200,
        description="Free text: a case id prefix, the customer's id or name, the order (subject),"
        " or a word of a note or of the customer's messages on the case",
    ),
]
Owner = Annotated[
    str | None, Query(max_length=200, description='An owner\'s name, or "me" for the caller')
]
Sla = Annotated[
    Literal["breached", "due_1h", "ok"] | None,
    Query(description="SLA clock: past due, due within the hour, or neither"),
]
Tier = Annotated[str | None, Query(max_length=50, description="The customer's tier")]


def search_filters(who: Principal, q: str | None, owner: str | None, **rest: Any) -> dict[str, Any]:
    return {"q": q, "owner": who.name if owner == "me" else owner, **rest}


@router.get("/cases", response_model=CasePage, responses=PAGE_ERRORS)
def list_cases(
    who: Reader,
    services: Svc,
    q: Search = None,
    state: Annotated[str | None, Query(max_length=20)] = None,
    severity: Severity | None = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
    customer_id: Annotated[str | None, Query(max_length=200)] = None,
    owner: Owner = None,
    needs_person: bool | None = None,
    sla: Sla = None,
    tier: Tier = None,
    sort: Sort = "updated",
    limit: Limit = 50,
    cursor: Cursor = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Deprecated: use `cursor`")] = 0,
) -> dict[str, Any]:
    """Cases, most recently changed first (or by `sort`), searched and filtered; a page at a
    time (`next_cursor`), with the total for the filters."""
    filters = search_filters(
        who,
        q,
        owner,
        state=state,
        severity=severity,
        category=category,
        customer_id=customer_id,
        needs_person=needs_person,
        sla=sla,
        tier=tier,
    )
    app = services.app
    with app.store.engine.connect() as conn:
        return dq.list_cases(conn, filters, limit, offset, cursor, now=app.clock.now(), sort=sort)


@router.get("/queue", response_model=QueuePage, responses=PAGE_ERRORS)
def queue(
    who: Reader,
    services: Svc,
    q: Search = None,
    needs_person: bool = True,
    state: Annotated[str | None, Query(max_length=20)] = None,
    severity: Severity | None = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
    owner: Owner = None,
    sla: Sla = None,
    tier: Tier = None,
    sort: Sort = "priority",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Open cases by priority (severity, customer tier, then the SLA clock running out) or by
    `sort`, searched and filtered; a page at a time, with the total that match."""
    filters = search_filters(
        who,
        q,
        owner,
        needs_person=True if needs_person else None,
        state=state,
        severity=severity,
        category=category,
        sla=sla,
        tier=tier,
    )
    app = services.app
    with app.store.engine.connect() as conn:
        return dq.queue(conn, filters, limit, cursor, now=app.clock.now(), sort=sort)


@router.get("/cases/{case_id}", response_model=CaseDetail, responses=ERRORS)
def get_case(case_id: str, who: Reader, services: Svc) -> dict[str, Any]:
    """One case: timeline, customer and history, failures, messages, compensation, budget."""
    return detail(services, case_id)


@router.post("/cases/{case_id}/notes", response_model=CaseDetail, responses=ERRORS)
def add_note(case_id: str, body: NoteIn, who: Reader, services: Svc) -> dict[str, Any]:
    services.actions.note(case_id, actor_of(who), body.text)
    return detail(services, case_id)


@router.post("/cases/{case_id}/assign", response_model=CaseDetail, responses=ERRORS)
def assign(case_id: str, body: AssignIn, who: Reader, services: Svc) -> dict[str, Any]:
    """Set the owner (null to unassign)."""
    services.actions.assign(case_id, actor_of(who), body.owner)
    return detail(services, case_id)


@router.post("/cases/{case_id}/collaborators", response_model=CaseDetail, responses=ERRORS)
def add_collaborator(
    case_id: str, body: CollaboratorIn, who: Reader, services: Svc
) -> dict[str, Any]:
    services.actions.add_collaborator(case_id, actor_of(who), body.name)
    return detail(services, case_id)


@router.delete("/cases/{case_id}/collaborators/{name}", response_model=CaseDetail, responses=ERRORS)
def remove_collaborator(case_id: str, name: str, who: Reader, services: Svc) -> dict[str, Any]:
    services.actions.remove_collaborator(case_id, actor_of(who), name)
    return detail(services, case_id)


@router.post("/cases/{case_id}/resolve", response_model=CaseDetail, responses=ERRORS)
def resolve(
    case_id: str, who: Reader, services: Svc, body: ResolveIn | None = None
) -> dict[str, Any]:
    """Resolve the case's failures and the case; the customer gets the follow-up survey."""
    services.actions.resolve(case_id, actor_of(who), body.note if body else None)
    return detail(services, case_id)


@router.post("/cases/{case_id}/close", response_model=CaseDetail, responses=ERRORS)
def close(case_id: str, who: Reader, services: Svc) -> dict[str, Any]:
    services.actions.close(case_id, actor_of(who))
    return detail(services, case_id)


@router.post("/cases/{case_id}/reopen", response_model=CaseDetail, responses=ERRORS)
def reopen(case_id: str, who: Reader, services: Svc) -> dict[str, Any]:
    services.actions.reopen(case_id, actor_of(who))
    return detail(services, case_id)


@router.post(
    "/cases/{case_id}/compensations",
    response_model=CompensationOut,
    responses=ERRORS,
    status_code=201,
)
def grant(case_id: str, body: GrantIn, who: Reader, services: Svc) -> dict[str, Any]:
    """Grant compensation. Within the caller's limit and the budgets it is `granted`; above
    the limit it is `pending` in the approvals queue; beyond a budget it is refused (409)."""
    comp = services.actions.grant(
        case_id, actor_of(who), body.kind, body.amount, body.reason, body.idempotency_key
    )
    return {name: getattr(comp, name) for name in CompensationOut.model_fields}
