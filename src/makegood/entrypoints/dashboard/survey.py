"""The customer's survey page: GET /s/{token} shows one question, one click answers it.

The link is signed and expiring (`makegood.adapters.survey_link`); single use comes from the
answer's event id, derived from the survey id, so a second answer is a duplicate the engine
ignores, and the page says so kindly. Both routes are rate-limited per client address, and the
pages speak the customer's language (`survey_text`).

One click from the e-mail: the message links each score as ``/s/{token}?score=N``. A GET with
a score records it at once when the browser says a person opened the link — a user-activated
navigation sends ``Sec-Fetch-User: ?1`` — and never for a prefetch (``Sec-Purpose``/``Purpose``)
or a HEAD. Mail scanners and link previews fetch links without that header; recording on their
fetch would answer the survey with whichever score they fetched first, so for them (and for the
rare browser that sends no Fetch Metadata) the page opens with the score chosen and one button
press sends it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from makegood.adapters.sql import dashboard_queries as dq
from makegood.adapters.survey_link import read_survey_token
from makegood.entrypoints.api.deps import Services, Svc
from makegood.entrypoints.dashboard.routes import templates
from makegood.entrypoints.dashboard.survey_text import TEXT, from_header, language

router = APIRouter(include_in_schema=False)


class Refused(Exception):
    """The link cannot be answered: which page to show instead (keys into `TEXT`)."""

    def __init__(self, lang: str, why: str, status: int, title: str | None = None) -> None:
        self.lang, self.why, self.status = lang, why, status
        self.title = title or f"{why}_title"


def _page(
    request: Request, services: Services, name: str, lang: str, status: int = 200, **context: Any
) -> HTMLResponse:
    t = TEXT[lang]
    return templates.TemplateResponse(
        request,
        name,
        {
            "business": services.app.policy.policy.business,
            "lang": lang,
            "t": t,
            "scores": list(enumerate(t["scores"], start=1)),
            **context,
        },
        status_code=status,
    )


def _check(request: Request, services: Services, token: str) -> tuple[str, str, str, str]:
    """(survey id, case id, customer id, language) of a usable link; `Refused` otherwise."""
    browser = from_header(request.headers.get("accept-language", ""))
    client = request.client.host if request.client else "unknown"
    if not services.survey_limiter.allow(client):
        raise Refused(browser, "busy", 429)
    found = read_survey_token(services.app.settings.secret, token, services.app.clock.now())
    if found is None:
        raise Refused(browser, "expired", 410)
    survey_id, case_id = found
    with services.app.store.engine.connect() as conn:
        customer = dq.case_customer_locale(conn, case_id)
        used = dq.event_exists(conn, answer_id(survey_id))
    if customer is None:
        raise Refused(browser, "unknown", 410, title="expired_title")
    lang = language(customer[1])
    if used:
        raise Refused(lang, "answered", 409)
    return survey_id, case_id, customer[0], lang


def _refused(request: Request, services: Services, refused: Refused) -> HTMLResponse:
    t = TEXT[refused.lang]
    return _page(
        request,
        services,
        "survey_message.html",
        refused.lang,
        refused.status,
        title=t[refused.title],
        text=t[refused.why],
    )


def answer_id(survey_id: str) -> str:
    return f"survey-answer:{survey_id}"


def person_clicked(request: Request) -> bool:
    """A navigation a person started, as the browser reports it (not a scanner or prefetch)."""
    headers = request.headers
    prefetch = "prefetch" in (headers.get("sec-purpose", "") + headers.get("purpose", "")).lower()
    return request.method == "GET" and headers.get("sec-fetch-user") == "?1" and not prefetch


@router.get("/s/{token}", response_class=HTMLResponse)
def survey_page(
    request: Request, token: str, services: Svc, score: str | None = None
) -> HTMLResponse:
    try:
        checked = _check(request, services, token)
    except Refused as refused:
        return _refused(request, services, refused)
    chosen = int(score) if score in ("1", "2", "3", "4", "5") else None
    if chosen is not None and person_clicked(request):
        return _record(request, services, checked, chosen, "", "")
    return _page(request, services, "survey.html", checked[3], token=token, chosen=chosen)


@router.post("/s/{token}", response_class=HTMLResponse)
def answer(
    request: Request,
    token: str,
    services: Svc,
    score: Annotated[int, Form(ge=1, le=5)],
    ces: Annotated[str, Form(max_length=1)] = "",
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> HTMLResponse:
    try:
        checked = _check(request, services, token)
    except Refused as refused:
        return _refused(request, services, refused)
    return _record(request, services, checked, score, ces, comment)


def _record(
    request: Request,
    services: Services,
    checked: tuple[str, str, str, str],
    score: int,
    ces: str,
    comment: str,
) -> HTMLResponse:
    survey_id, case_id, customer_id, lang = checked
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
    report = services.app.engine.ingest([event], "survey")
    if report.duplicates:
        return _refused(request, services, Refused(lang, "answered", 409))
    return _page(request, services, "survey_thanks.html", lang, score=score)
