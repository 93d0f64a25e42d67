"""Signing in and out of the dashboard, and where a signed-out visitor is sent.

A page that needs a session raises `SignInRequired`; `to_sign_in` answers it with a redirect to
/login that remembers the page, and a successful sign-in returns there (same site only).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from makegood.adapters.sql.auth import end_session, start_session
from makegood.entrypoints.api.deps import Svc
from makegood.entrypoints.dashboard.routes import render
from makegood.entrypoints.dashboard.session import (
    COOKIE,
    LIFETIME,
    LOGIN_COOKIE,
    Checked,
    login_csrf,
    login_csrf_ok,
    set_cookie,
)

router = APIRouter(include_in_schema=False)


def safe_next(path: str | None) -> str:
    """A path on this site to return to; anything else (another host, a scheme) is '/'."""
    if not path or not path.startswith("/") or path.startswith(("//", "/\\")) or len(path) > 2000:
        return "/"
    return path


async def to_sign_in(request: Request, _: Exception) -> Response:
    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = "/login" if wanted == "/" else f"/login?next={quote(wanted, safe='')}"
    return RedirectResponse(target, status_code=303)


def _login_page(
    request: Request, status: int = 200, error: str | None = None, next_path: str = "/"
) -> HTMLResponse:
    csrf, new_cookie = login_csrf(request)
    response = render(
        request, "login.html", None, status=status, error=error, next=next_path, login_csrf=csrf
    )
    if new_cookie:
        set_cookie(request, response, LOGIN_COOKIE, new_cookie, 3600)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return _login_page(request, next_path=safe_next(next))


@router.post("/login")
def login(
    request: Request,
    services: Svc,
    token: Annotated[str, Form(max_length=300)],
    csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    target = safe_next(next)
    if not login_csrf_ok(request, csrf):
        return _login_page(
            request, 403, "The sign-in form expired; please try again.", next_path=target
        )
    found = services.authenticate(token.strip())
    if found is None or found.role == "ingest":
        error = (
            "This token is for sending events; sign in with an agent, lead or admin token."
            if found
            else "That token is not valid. Ask an admin for one."
        )
        return _login_page(request, 401, error, next_path=target)
    app = services.app
    session = start_session(app.store.engine, found.token_id, app.clock.now(), LIFETIME)
    response = RedirectResponse(target, status_code=303)
    set_cookie(request, response, COOKIE, session, int(LIFETIME.total_seconds()))
    response.delete_cookie(LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, who: Checked, services: Svc) -> Response:
    end_session(services.app.store.engine, request.state.session)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response
