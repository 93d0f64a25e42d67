"""Dashboard sign-in: a signed session cookie naming the token (never the token itself), and
CSRF tokens derived from the session for every form."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from makegood.adapters.sql.auth import Principal, principal_by_id
from makegood.entrypoints.api.deps import READERS, services

COOKIE = "makegood_session"
LIFETIME_S = 12 * 3600


def _sign(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()[:24]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def session_value(secret: str, token_id: str, now: float | None = None) -> str:
    expiry = int((now or time.time()) + LIFETIME_S)
    payload = f"{token_id}.{expiry}"
    return f"{payload}.{_sign(secret, 'session:' + payload)}"


def read_session(secret: str, value: str) -> str | None:
    try:
        token_id, expiry, signature = value.split(".")
        expires = int(expiry)
    except ValueError:
        return None
    if not hmac.compare_digest(signature, _sign(secret, f"session:{token_id}.{expiry}")):
        return None
    return token_id if time.time() < expires else None


def csrf_token(secret: str, session: str) -> str:
    return _sign(secret, "csrf:" + session)


class SignInRequired(Exception):
    """Raised for pages that need a session; the app answers with a redirect to /login."""


def viewer(request: Request) -> Principal:
    """The signed-in person (agent, lead or admin), or a redirect to the sign-in page."""
    svc = services(request)
    value = request.cookies.get(COOKIE, "")
    token_id = read_session(svc.app.settings.secret, value) if value else None
    found = principal_by_id(svc.app.store.engine, token_id) if token_id else None
    if found is None:
        raise SignInRequired
    if found.role not in READERS:
        raise HTTPException(403, "this token is for sending events, not for the dashboard")
    request.state.csrf = csrf_token(svc.app.settings.secret, value)
    return found


async def checked(request: Request, who: Annotated[Principal, Depends(viewer)]) -> Principal:
    """For form posts: a signed-in person and a valid CSRF token (form field or header)."""
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        form = await request.form()
        field = form.get("csrf")
        sent = field if isinstance(field, str) else None
    if not sent or not hmac.compare_digest(sent, request.state.csrf):
        raise HTTPException(403, "the form expired; reload the page and try again")
    return who


Viewer = Annotated[Principal, Depends(viewer)]
Checked = Annotated[Principal, Depends(checked)]
