"""The dashboard's lists: the queue, approvals (and deciding them), incidents; 50 a page.

Each page reads one keyset page (`makegood.adapters.sql.paging`) and shows the list's true
total; the "next page" link carries the cursor and the page's filters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from makegood.adapters.sql import dashboard_queries as dq
from makegood.adapters.sql import live
from makegood.adapters.sql.auth import Principal
from makegood.adapters.sql.paging import BadCursor
from makegood.domain.actions import ActionRefused, NotAllowed
from makegood.domain.errors import NotFound
from makegood.entrypoints.api.deps import Services, Svc, actor_of
from makegood.entrypoints.dashboard import views
from makegood.entrypoints.dashboard.routes import back, render
from makegood.entrypoints.dashboard.session import Checked, Viewer

router = APIRouter(include_in_schema=False)
Cursor = Annotated[str | None, Query(max_length=1000)]


PAGE = 50


def paged(read: Callable[[str | None], dict[str, Any]], cursor: str | None) -> dict[str, Any]:
    """A page of a list; a cursor from an old or edited link starts again from the first."""
    try:
        return read(cursor or None)
    except BadCursor:
        return read(None)


def page_links(request: Request, found: dict[str, Any], cursor: str | None) -> dict[str, Any]:
    """The template's paging: the first page and the next one, with this page's filters."""
    params = {k: v for k, v in request.query_params.items() if k not in ("cursor", "done")}
    first = f"{request.url.path}?{urlencode(params)}" if params else request.url.path
    after = found["next_cursor"]
    return {
        "items": found["items"],
        "total": found["total"],
        "paging": bool(cursor),
        "first_page": first,
        "next_page": f"{request.url.path}?{urlencode({**params, 'cursor': after})}"
        if after
        else None,
    }


Text = Annotated[str | None, Query(max_length=200)]
SORTS = {"priority": "Priority", "newest": "Newest", "oldest": "Oldest", "sla_due": "SLA due"}
SLA_STATES = {"breached": "SLA breached", "due_1h": "Due within 1 h", "ok": "SLA ok"}
TIERS = ("gold", "silver", "standard")


def choice(value: str | None, allowed: Any) -> str | None:
    """A select's value if it is one of its options (an edited link is ignored, not an error)."""
    return value if value in allowed else None


@router.get("/", response_class=HTMLResponse)
def queue(
    request: Request,
    who: Viewer,
    services: Svc,
    q: Text = None,
    severity: Text = None,
    category: Text = None,
    state: Text = None,
    owner: Text = None,
    sla: Text = None,
    tier: Text = None,
    sort: Text = None,
    mine: bool = False,
    everything: bool = False,
    cursor: Cursor = None,
) -> HTMLResponse:
    owner = (owner or "").strip() or None
    filters = {
        "q": (q or "").strip() or None,
        "severity": severity or None,
        "category": category or None,
        "state": state or None,
        "owner": who.name if mine or owner == "me" else owner,
        "sla": choice(sla, SLA_STATES),
        "tier": choice(tier, TIERS),
        "needs_person": None if everything else True,
    }
    order = choice(sort, SORTS) or "priority"
    now = services.app.clock.now()
    with services.app.store.engine.connect() as conn:
        version = live.queue_version(conn)  # before the page: a change after it shows
        found = paged(lambda at: dq.queue(conn, filters, PAGE, at, now=now, sort=order), cursor)
        categories = dq.open_categories(conn)
    return render(
        request,
        "queue.html",
        who,
        **page_links(request, found, cursor),
        categories=categories,
        live_tag=version,
        sorts=SORTS,
        sla_states=SLA_STATES,
        tiers=TIERS,
        filters={**filters, "mine": mine or owner == "me", "everything": everything, "sort": order},
    )


@router.get("/approvals", response_class=HTMLResponse)
def show_approvals(
    request: Request,
    who: Viewer,
    services: Svc,
    cursor: Cursor = None,
    kind: Text = None,
    min_amount: Text = None,
    max_amount: Text = None,
) -> HTMLResponse:
    filters = {
        "kind": choice(kind, dq.APPROVAL_KINDS),
        "min_amount": views.amount_or_none(min_amount),
        "max_amount": views.amount_or_none(max_amount),
    }
    return approvals(request, who, services, cursor=cursor, filters=filters)


def approvals(
    request: Request,
    who: Principal,
    services: Services,
    error: str | None = None,
    status: int = 200,
    cursor: str | None = None,
    filters: dict[str, Any] | None = None,
) -> HTMLResponse:
    filters = filters or {}
    with services.app.store.engine.connect() as conn:
        found = paged(lambda at: dq.pending_approvals(conn, PAGE, at, filters), cursor)
    empowerment = services.app.policy.policy.empowerment
    response = render(
        request,
        "approvals.html",
        who,
        status=status,
        **page_links(request, found, cursor),
        error=error,
        filters=filters,
        kinds=dq.APPROVAL_KINDS,
        limits={"agent": empowerment.agent, "lead": empowerment.lead},
        my_limit={"agent": empowerment.agent, "lead": empowerment.lead}.get(who.role),
    )
    if error:  # answered to a form post: the address bar shows the list, not the action
        response.headers["HX-Replace-Url"] = "/approvals"
    return response


@router.post("/approvals/bulk")
def decide_selected(
    request: Request,
    who: Checked,
    services: Svc,
    ids: Annotated[list[str], Form(max_length=200)],
    decision: Annotated[str, Form(max_length=10)],
    reason: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """Approve or reject the ticked approvals, with one reason (a rejection needs it)."""
    if decision not in ("approve", "reject"):
        raise HTTPException(404, "no such action")
    if decision == "reject" and not reason.strip():
        return approvals(request, who, services, error="Give a reason to reject.", status=422)
    with services.app.store.engine.connect() as conn:
        owners = dq.compensation_owners(conn, ids[:200])
    outcome = services.actions.decide_many(
        owners, actor_of(who), decision == "approve", reason.strip()
    )
    refused = [
        why.removeprefix("refused: ") for why in outcome.values() if why.startswith("refused")
    ]
    if refused:
        done = len(outcome) - len(refused)
        error = f"{done} decided; {len(refused)} refused: {refused[0]}"
        return approvals(request, who, services, error=error, status=409)
    return back("/approvals", "bulk_approved" if decision == "approve" else "bulk_rejected")


@router.post("/approvals/{compensation_id}/{verb}")
def decide(
    request: Request,
    compensation_id: str,
    verb: str,
    who: Checked,
    services: Svc,
    reason: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    if verb not in ("approve", "reject"):
        raise HTTPException(404, "no such action")
    actions, actor = services.actions, actor_of(who)
    try:
        with services.app.store.engine.connect() as conn:
            case_id, customer_id, cause = dq.compensation_owner(conn, compensation_id)
        if verb == "approve":
            actions.approve(case_id, compensation_id, actor, customer_id, cause)
        else:
            actions.reject(case_id, compensation_id, actor, reason, customer_id, cause)
    except NotFound:
        raise HTTPException(404, "no such approval") from None
    except (ActionRefused, NotAllowed) as refused:
        return approvals(request, who, services, error=str(refused), status=409)
    return back("/approvals", f"{verb}d")


@router.get("/incidents", response_class=HTMLResponse)
def incidents(
    request: Request,
    who: Viewer,
    services: Svc,
    cursor: Cursor = None,
) -> HTMLResponse:
    with services.app.store.engine.connect() as conn:
        found = paged(lambda at: dq.incidents_page(conn, PAGE, at), cursor)
    return render(
        request,
        "incidents.html",
        who,
        **page_links(request, found, cursor),
        incident_kinds=[s.spec for s in services.app.policy.incidents],
    )
