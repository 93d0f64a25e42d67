"""The desk's other pages: live-update markers, one incident (and declaring or resolving one by
hand), and the running policy with every template previewed in each locale.

Live updates are polling with ETags: a page asks ``/live/...`` every second with the ETag it
has; 304 means nothing changed, 200 with a new ETag means fetch the page again
(``static/live.js`` swaps the changed parts in, without a reload).
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from makegood.adapters.renderer import shipped_templates
from makegood.adapters.sql import live
from makegood.adapters.sql.incident_page import incident_page
from makegood.adapters.templates import TemplateError, TemplateRenderer
from makegood.domain.actions import ActionRefused, NotAllowed
from makegood.domain.errors import NotFound
from makegood.domain.event import jsonable
from makegood.entrypoints.api.deps import Services, Svc, actor_of
from makegood.entrypoints.cli_template import sample_context
from makegood.entrypoints.dashboard.routes import back, render
from makegood.entrypoints.dashboard.session import Checked, Viewer

router = APIRouter(include_in_schema=False)
LOCALES = ("en", "pt")


def _marker(request: Request, tag: str | None) -> Response:
    if tag is None:
        return Response(status_code=404)
    etag = f'"{tag}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(status_code=200, headers=headers)


@router.get("/live/queue")
def queue_marker(request: Request, who: Viewer, services: Svc) -> Response:
    with services.app.store.engine.connect() as conn:
        return _marker(request, live.queue_version(conn))


@router.get("/live/cases/{case_id}")
def case_marker(request: Request, case_id: str, who: Viewer, services: Svc) -> Response:
    with services.app.store.engine.connect() as conn:
        return _marker(request, live.case_version(conn, case_id))


# incidents -------------------------------------------------------------------------------------
@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def show_incident(
    request: Request,
    incident_id: str,
    who: Viewer,
    services: Svc,
    page: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> HTMLResponse:
    return incident(request, incident_id, who, services, page)


def incident(
    request: Request,
    incident_id: str,
    who: Any,
    services: Services,
    page: int = 0,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    try:
        with services.app.store.engine.connect() as conn:
            found = incident_page(conn, incident_id, page)
    except NotFound:
        return render(
            request,
            "message.html",
            who,
            status=404,
            title="No such incident",
            text="The incident does not exist, or it has not been declared yet.",
        )
    currency = services.app.policy.policy.business.currency
    return render(
        request, "incident.html", who, status=status, p=found, error=error, currency=currency
    )


@router.post("/incidents/declare")
def declare(
    request: Request,
    who: Checked,
    services: Svc,
    spec: Annotated[str, Form(max_length=100)] = "",
    key: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    try:
        incident_id = services.actions.declare_incident(actor_of(who), spec, key.strip())
    except NotAllowed as refused:
        raise HTTPException(403, str(refused)) from None
    except ActionRefused:
        return RedirectResponse("/incidents?done=bad_incident", status_code=303)
    return back(f"/incidents/{incident_id}", "declared")


@router.post("/incidents/{incident_id}/resolve")
def resolve(request: Request, incident_id: str, who: Checked, services: Svc) -> Response:
    try:
        services.actions.resolve_incident(actor_of(who), incident_id)
    except NotAllowed as refused:
        raise HTTPException(403, str(refused)) from None
    except NotFound:
        raise HTTPException(404, "no such incident") from None
    except ActionRefused as refused:
        return incident(request, incident_id, who, services, error=str(refused), status=409)
    return back(f"/incidents/{incident_id}", "incident_resolved")


# the running policy --------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """A policy dataclass as nested JSON-able data, without the fields left at None or empty."""
    is_instance = dataclasses.is_dataclass(value) and not isinstance(value, type)
    data = jsonable(dataclasses.asdict(value)) if is_instance else value
    if isinstance(data, dict):
        return {k: _plain(v) for k, v in data.items() if v not in (None, (), [], {}, "")}
    if isinstance(data, list):
        return [_plain(v) for v in data]
    return data


def previews(services: Services) -> list[dict[str, Any]]:
    """Every template, rendered with sample data in each locale (or why it does not render)."""
    settings = services.app.settings
    folders = [settings.templates] if settings.templates else []
    renderer = TemplateRenderer([*folders, shipped_templates()])
    out = []
    for name, written in renderer.templates().items():
        shown = []
        for locale in LOCALES:
            context = sample_context(locale)
            try:
                mail = renderer.preview(name, locale, context)
                shown.append(
                    {
                        "locale": locale,
                        "used": renderer.resolve_locale(name, locale),
                        "subject": mail.subject,
                        "text": mail.text,
                    }
                )
            except TemplateError as error:
                shown.append({"locale": locale, "error": str(error)})
        out.append({"name": name, "written_in": written, "previews": shown})
    return out


@router.get("/policy", response_class=HTMLResponse)
def policy_page(request: Request, who: Viewer, services: Svc) -> HTMLResponse:
    policy = services.app.policy.policy
    return render(
        request,
        "policy.html",
        who,
        policy=policy,
        detectors=[_plain(d) for d in policy.detectors],
        playbooks=[_plain(p) for p in policy.playbooks],
        incident_specs=[_plain(i) for i in policy.incidents],
        budgets=_plain(policy.budgets),
        tiers=_plain(policy.empowerment),
        follow_up=_plain(policy.follow_up),
        limits={
            "messages per customer per day": policy.suppression.max_messages_per_customer_per_day,
            **{f"SLA {k}": v for k, v in _plain(policy.sla).items()},
        },
        templates_shown=previews(services),
    )
