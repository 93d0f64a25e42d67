"""Dashboard sign-in: a session held server-side (the cookie is a random id, only its hash is
stored, sign-out deletes it), and CSRF tokens for every form, the sign-in form included.

The sign-in form cannot derive its CSRF token from a session that does not exist yet, so it
uses a double-submit cookie: GET /login sets a random `makegood_login` cookie (SameSite=Strict,
so another site can neither read nor send it) and the form carries its HMAC.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Response

from makegood.adapters.sql.auth import Principal, session_principal
from makegood.entrypoints.api.deps import READERS, services

COOKIE = "makegood_session"
LOGIN_COOKIE = "makegood_login"
LIFETIME = timedelta(hours=12)


def _sign(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()[:24]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def same(sent: str, expected: str) -> bool:
    """Constant-time comparison that accepts any text (compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(sent.encode(), expected.encode())


def csrf_token(secret: str, session: str) -> str:
    return _sign(secret, "csrf:" + session)


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    """HttpOnly, SameSite=Strict, and Secure whenever the page was served over HTTPS (behind
    a proxy, only if `serve --forwarded-allow-ips` trusts it to say so)."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def login_csrf(request: Request) -> tuple[str, str | None]:
    """The sign-in form's CSRF token, and a new login cookie value to set if there was none."""
    secret = services(request).app.settings.secret
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    new = None
    if not 20 <= len(nonce) <= 100:
        nonce = new = secrets.token_urlsafe(24)
    return _sign(secret, "login:" + nonce), new


def login_csrf_ok(request: Request, sent: str) -> bool:
    secret = services(request).app.settings.secret
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    return bool(nonce and sent) and same(sent, _sign(secret, "login:" + nonce))


class SignInRequired(Exception):
    """Raised for pages that need a session; the app answers with a redirect to /login."""


def viewer(request: Request) -> Principal:
    """The signed-in person (agent, lead or admin), or a redirect to the sign-in page."""
    svc = services(request)
    value = request.cookies.get(COOKIE, "")
    found = session_principal(svc.app.store.engine, value, svc.app.clock.now()) if value else None
    if found is None:
        raise SignInRequired
    if found.role not in READERS:
        raise HTTPException(403, "this token is for sending events, not for the dashboard")
    request.state.csrf = csrf_token(svc.app.settings.secret, value)
    request.state.session = value
    return found


async def checked(request: Request, who: Annotated[Principal, Depends(viewer)]) -> Principal:
    """For form posts: a signed-in person and a valid CSRF token (form field or header)."""
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        form = await request.form()
        field = form.get("csrf")
        sent = field if isinstance(field, str) else None
    if not sent or not same(sent, request.state.csrf):
        raise HTTPException(403, "the form expired; reload the page and try again")
    return who


Viewer = Annotated[Principal, Depends(viewer)]
Checked = Annotated[Principal, Depends(checked)]
