"""The customer's survey page: GET /s/{token} shows one question, one click answers it.

The link is signed and expiring (`makegood.adapters.survey_link`); single use comes from the
answer's event id, derived from the survey id, so a second answer is a duplicate the engine
ignores, and the page says so kindly. Both routes are rate-limited per client address.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from makegood.adapters.sql import dashboard_queries as dq
from makegood.adapters.survey_link import read_survey_token
from makegood.entrypoints.api.deps import Services, Svc
from makegood.entrypoints.api.middleware import RateLimiter
from makegood.entrypoints.dashboard.routes import templates

router = APIRouter(include_in_schema=False)
limiter = RateLimiter(rate=30, burst=10)
SCORES = ((1, "Very unhappy"), (2, "Unhappy"), (3, "Okay"), (4, "Happy"), (5, "Very happy"))


def _page(
    request: Request, services: Services, name: str, status: int = 200, **context: object
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        name,
        {"business": services.app.policy.policy.business, "scores": SCORES, **context},
        status_code=status,
    )


def _sorry(
    request: Request, services: Services, title: str, text: str, status: int
) -> HTMLResponse:
    return _page(request, services, "survey_message.html", status, title=title, text=text)


def _check(request: Request, services: Services, token: str) -> tuple[str, str, str] | HTMLResponse:
    """(survey id, case id, customer id) of a usable link, or the page that explains why not."""
    client = request.client.host if request.client else "unknown"
    if not limiter.allow(client):
        return _sorry(
            request,
            services,
            "One moment, please",
            "We received many answers from your connection. Please try again in a minute.",
            429,
        )
    found = read_survey_token(services.app.settings.secret, token, services.app.clock.now())
    if found is None:
        return _sorry(
            request,
            services,
            "This link has expired",
            "Thank you for wanting to tell us how we did. This survey link is no "
            "longer valid, but you can always reply to our message.",
            410,
        )
    survey_id, case_id = found
    with services.app.store.engine.connect() as conn:
        customer_id = dq.case_customer(conn, case_id)
        used = dq.event_exists(conn, answer_id(survey_id))
    if customer_id is None:
        return _sorry(
            request,
            services,
            "This link has expired",
            "We could not find what this survey was about.",
            410,
        )
    if used:
        return _sorry(
            request,
            services,
            "You have already answered",
            "Thank you: we have your answer, and it is already with our team.",
            409,
        )
    return survey_id, case_id, customer_id


def answer_id(survey_id: str) -> str:
    return f"survey-answer:{survey_id}"


@router.get("/s/{token}", response_class=HTMLResponse)
def survey_page(request: Request, token: str, services: Svc) -> HTMLResponse:
    checked = _check(request, services, token)
    if isinstance(checked, HTMLResponse):
        return checked
    return _page(request, services, "survey.html", token=token)


@router.post("/s/{token}", response_class=HTMLResponse)
async def answer(
    request: Request,
    token: str,
    services: Svc,
    score: Annotated[int, Form(ge=1, le=5)],
    ces: Annotated[str, Form(max_length=1)] = "",
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> HTMLResponse:
    checked = await run_in_threadpool(_check, request, services, token)
    if isinstance(checked, HTMLResponse):
        return checked
    survey_id, case_id, customer_id = checked
    attributes: dict[str, object] = {"case_id": case_id, "score": score, "kind": "csat"}
    if ces.isdigit() and 1 <= int(ces) <= 7:
        attributes["ces"] = int(ces)
    if comment.strip():
        attributes["comment"] = comment.strip()
    event = {
        "id": answer_id(survey_id),
        "type": "survey.answered",
        "occurred_at": services.app.clock.now().isoformat(),
        "customer_id": customer_id,
        "attributes": attributes,
    }
    report = await run_in_threadpool(services.app.engine.ingest, [event], "survey")
    if report.duplicates:
        return _sorry(
            request,
            services,
            "You have already answered",
            "Thank you: we have your answer, and it is already with our team.",
            409,
        )
    return _page(request, services, "survey_thanks.html", score=score)
