"""Dashboard pages: a case, a customer, their actions, and the recovery numbers.

Forms post to these routes (CSRF-checked), which call the same service-layer actions as the API
and redirect back (post/redirect/get), so a reload never repeats an action.
"""

from __future__ import annotations

import uuid
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from makegood.adapters.sql import dashboard_queries as dq
from makegood.adapters.sql import live
from makegood.adapters.sql.auth import Principal
from makegood.adapters.sql.customer_page import customer_page
from makegood.domain.actions import ActionRefused, NotAllowed
from makegood.domain.errors import NotFound
from makegood.entrypoints.api.deps import Services, Svc, actor_of
from makegood.entrypoints.api.replies import reply_templates
from makegood.entrypoints.dashboard import charts, views
from makegood.entrypoints.dashboard.session import Checked, Viewer

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(
    directory=str(resources.files("makegood.entrypoints.dashboard").joinpath("templates"))
)
templates.env.filters.update(label=views.label, money=views.money)
DONE = {
    "granted": "Compensation granted.",
    "pending": "Above your limit: sent for approval.",
    "noted": "Note added.",
    "assigned": "Owner changed.",
    "shared": "Collaborators updated.",
    "resolved": "Case resolved; the customer will get the survey.",
    "closed": "Case closed.",
    "reopened": "Case reopened.",
    "approved": "Approved and granted.",
    "rejected": "Rejected; the reason is on the case.",
    "declared": "Incident declared; everyone affected will hear from us.",
    "incident_resolved": "Incident resolved; everyone told will hear it is over.",
    "bad_incident": "Choose the kind of incident and give its key (e.g. the area).",
    "bulk_approved": "The selected approvals are approved and granted.",
    "bulk_rejected": "The selected approvals are rejected; the reason is on each case.",
    "replied": "Reply queued to the customer; it is on the timeline.",
}


def render(
    request: Request, name: str, who: Principal | None, status: int = 200, **context: Any
) -> HTMLResponse:
    svc: Services = request.app.state.services
    now = svc.app.clock.now()
    waiting = 0
    if who is not None:
        with svc.app.store.engine.connect() as conn:
            waiting = int(conn.scalar(dq.pending_count_query()) or 0)
    done = DONE.get(request.query_params.get("done", ""))
    return templates.TemplateResponse(
        request,
        name,
        {
            "who": who,
            "now": now,
            "csrf": getattr(request.state, "csrf", ""),
            "approvals_waiting": waiting,
            "done": done,
            "ago": lambda at: views.ago(at, now),
            "business": svc.app.policy.policy.business,
            **context,
        },
        status_code=status,
    )


def back(path: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?done={done}", status_code=303)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def show_case(request: Request, case_id: str, who: Viewer, services: Svc) -> HTMLResponse:
    return case_page(request, case_id, who, services)


def case_page(
    request: Request,
    case_id: str,
    who: Principal,
    services: Services,
    error: str | None = None,
    status: int = 200,
    **extra: Any,
) -> HTMLResponse:
    app = services.app
    now = app.clock.now()
    try:
        with app.store.engine.connect() as conn:
            version = live.case_version(conn, case_id)  # before the page: a change after it shows
            page = dq.case_page(conn, case_id, app.policy.policy.budgets, now)
    except NotFound:
        return render(
            request,
            "message.html",
            who,
            status=404,
            title="No such case",
            text="The case does not exist, or the link is wrong.",
        )
    empowerment = app.policy.policy.empowerment
    limit = {"agent": empowerment.agent, "lead": empowerment.lead}.get(who.role)
    response = render(
        request,
        "case.html",
        who,
        status=status,
        page=page,
        error=error,
        limit=limit,
        currency=app.policy.policy.business.currency,
        suggestion=views.suggestion(page, who.role, empowerment.agent, now),
        timeline=list(reversed(page["timeline"])),
        grant_key=uuid.uuid4().hex,
        reply_templates=reply_templates(services),
        default_channel=app.policy.policy.channel,
        live_tag=version,
        **extra,
    )
    if error:  # answered to a form post: the address bar shows the case, not the action
        response.headers["HX-Replace-Url"] = f"/cases/{case_id}"
    return response


@router.get("/customers/{customer_id:path}", response_class=HTMLResponse)
def show_customer(request: Request, customer_id: str, who: Viewer, services: Svc) -> HTMLResponse:
    """One customer: every case, message, compensation and survey answer, lifetime value and
    what they were given in the last 30 days."""
    app = services.app
    try:
        with app.store.engine.connect() as conn:
            page = customer_page(conn, customer_id, app.clock.now())
    except NotFound:
        return render(
            request,
            "message.html",
            who,
            status=404,
            title="No such customer",
            text="makegood has no profile and no case for this customer.",
        )
    return render(
        request, "customer.html", who, page=page, currency=app.policy.policy.business.currency
    )


def act(
    request: Request, services: Services, who: Principal, case_id: str, action: Any, done: str
) -> Response:
    try:
        result = action()
    except NotFound:
        raise HTTPException(404, "no such case") from None
    except (ActionRefused, NotAllowed) as refused:
        return case_page(request, case_id, who, services, error=str(refused), status=409)
    if done == "granted" and getattr(result, "status", "") == "pending":
        done = "pending"
    return back(f"/cases/{case_id}", done)


@router.post("/cases/{case_id}/note")
def note(
    request: Request,
    case_id: str,
    who: Checked,
    services: Svc,
    text: Annotated[str, Form(max_length=5000)],
) -> Response:
    return act(
        request,
        services,
        who,
        case_id,
        lambda: services.actions.note(case_id, actor_of(who), text),
        "noted",
    )


@router.post("/cases/{case_id}/assign")
def assign(
    request: Request,
    case_id: str,
    who: Checked,
    services: Svc,
    owner: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    return act(
        request,
        services,
        who,
        case_id,
        lambda: services.actions.assign(case_id, actor_of(who), owner.strip() or None),
        "assigned",
    )


@router.post("/cases/{case_id}/collaborators")
def collaborators(
    request: Request,
    case_id: str,
    who: Checked,
    services: Svc,
    name: Annotated[str, Form(min_length=1, max_length=100)],
    remove: Annotated[str, Form()] = "",
) -> Response:
    actions, actor = services.actions, actor_of(who)
    change = actions.remove_collaborator if remove else actions.add_collaborator
    return act(
        request, services, who, case_id, lambda: change(case_id, actor, name.strip()), "shared"
    )


@router.post("/cases/{case_id}/grant")
def grant(
    request: Request,
    case_id: str,
    who: Checked,
    services: Svc,
    kind: Annotated[str, Form()],
    amount: Annotated[str, Form(max_length=20)],
    reason: Annotated[str, Form(max_length=500)] = "",
    key: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    value = views.parse_amount(amount)
    if isinstance(value, str):
        return case_page(request, case_id, who, services, error=value, status=422)
    return act(
        request,
        services,
        who,
        case_id,
        lambda: services.actions.grant(case_id, actor_of(who), kind, value, reason, key or None),
        "granted",
    )


@router.post("/cases/{case_id}/{verb}")
def transition(request: Request, case_id: str, verb: str, who: Checked, services: Svc) -> Response:
    actions, actor = services.actions, actor_of(who)
    do = {
        "resolve": lambda: actions.resolve(case_id, actor),
        "close": lambda: actions.close(case_id, actor),
        "reopen": lambda: actions.reopen(case_id, actor),
    }.get(verb)
    if do is None:
        raise HTTPException(404, "no such action")
    return act(request, services, who, case_id, do, f"{verb}d")


@router.get("/insights", response_class=HTMLResponse)
def insights(request: Request, who: Viewer, services: Svc) -> HTMLResponse:
    app = services.app
    budgets = app.policy.policy.budgets
    with app.store.engine.connect() as conn:
        figures = dq.metrics(conn, budgets)
    timings = figures["timings_s"]
    timing_bars = [
        (f"{name} p{p}", (timings[name][f"p{p}"] or 0) / 60)
        for name in ("detect", "acknowledge", "resolve")
        for p in (50, 90)
    ]
    spend = [(day, float(value)) for day, value in figures["spend"]["by_day"].items()]
    over_time = [
        (row["hour"], {k: float(v) for k, v in row["by_category"].items()})
        for row in figures["failures_over_time"]
    ]
    return render(
        request,
        "insights.html",
        who,
        figures=figures,
        currency=app.policy.policy.business.currency,
        funnel=charts.bars([(s["step"], s["cases"]) for s in figures["funnel"]], " cases"),
        timings=charts.bars(timing_bars, " min"),
        spend=charts.bars(
            spend[-14:],
            f" {app.policy.policy.business.currency}",
            limit=float(budgets.global_per_day),
        ),
        categories=charts.bars(
            [(k, v) for k, v in figures["failures"]["by_category"].items()][:10]
        ),
        over_time=charts.stacked_columns(over_time[-48:]),
    )
