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

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse

from makegood.adapters.sql import dashboard_queries as dq
from makegood.adapters.survey_link import read_survey_token
from makegood.entrypoints.api.deps import Services, Svc
from makegood.entrypoints.dashboard.routes import templates
from makegood.entrypoints.dashboard.survey_text import TEXT, from_header, language

router = APIRouter(include_in_schema=False)
SIGNED_EVER = datetime(1970, 1, 1, tzinfo=UTC)  # checking a signature, not an expiry


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
            "kind": _kind(services),
            "scores": list(enumerate(t["ces_scores" if _kind(services) == "ces" else "scores"], 1)),
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
    secret = services.app.settings.secret
    found = read_survey_token(secret, token, services.app.clock.now())
    if found is None:
        # a link we signed that has only expired still says whose it was: their language
        ours = read_survey_token(secret, token, SIGNED_EVER)
        lang = _language(services, ours[1]) if ours else None
        raise Refused(lang or browser, "expired", 410)
    survey_id, case_id = found
    with services.app.store.engine.connect() as conn:
        template = services.app.policy.policy.follow_up.template
        customer = dq.case_customer_locale(conn, case_id, template)
        used = dq.event_exists(conn, answer_id(survey_id))
    if customer is None:
        raise Refused(browser, "unknown", 410, title="expired_title")
    lang = language(customer[1])
    if used:
        raise Refused(lang, "answered", 409)
    return survey_id, case_id, customer[0], lang


def _language(services: Services, case_id: str) -> str | None:
    with services.app.store.engine.connect() as conn:
        template = services.app.policy.policy.follow_up.template
        found = dq.case_customer_locale(conn, case_id, template)
    return language(found[1]) if found else None


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
    top = 7 if _kind(services) == "ces" else 5
    chosen = int(score) if score in {str(n) for n in range(1, top + 1)} else None
    if chosen is not None and person_clicked(request):
        return _record(request, services, checked, chosen, "", "")
    return _page(request, services, "survey.html", checked[3], token=token, chosen=chosen)


def _kind(services: Services) -> str:
    """What the survey asks, as the policy's follow-up says: csat (1-5) or ces (1-7)."""
    return services.app.policy.policy.follow_up.survey


@router.post("/s/{token}", response_class=HTMLResponse)
def answer(
    request: Request,
    token: str,
    services: Svc,
    score: Annotated[int, Form(ge=1, le=7)],
    ces: Annotated[str, Form(max_length=1)] = "",
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> HTMLResponse:
    try:
        checked = _check(request, services, token)
    except Refused as refused:
        return _refused(request, services, refused)
    if _kind(services) == "csat" and score > 5:
        raise RequestValidationError(
            [
                {
                    "loc": ("body", "score"),
                    "msg": "a satisfaction score is 1 to 5",
                    "type": "value_error",
                }
            ]
        )
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
    kind = _kind(services)
    attributes: dict[str, object] = {"case_id": case_id, "score": score, "kind": kind}
    if kind == "csat" and ces.isdigit() and 1 <= int(ces) <= 7:  # asked alongside
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
    good = score >= (
        services.app.policy.policy.follow_up.close_at_or_above if kind == "csat" else 5
    )
    return _page(request, services, "survey_thanks.html", lang, score=score, good=good)
