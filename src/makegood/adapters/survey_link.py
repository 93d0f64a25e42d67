"""Signed, expiring survey links: ``<site>/s/<survey id>.<case id>.<expiry>.<signature>``.

Single use is the store's job (an answered survey is not answered again); the signature keeps
anyone from forging a link for another case, the expiry keeps old links from working forever.
The signature is checked before anything else in the token is interpreted, so a forged token
never reaches a parser.

`business.survey_base_url` in the policy is the site's root (``https://help.example.com``);
the ``/s/`` path is derived here. Left empty, links point at the server that sends them
(`makegood serve --host/--port`), or at `DEFAULT_SITE`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import urlsplit

DEFAULT_SITE = "http://127.0.0.1:8000"
PATH = "/s/"
MAX_EXPIRY = 253402300799  # 9999-12-31T23:59:59Z: anything larger is no date


def _sign(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def survey_token(secret: str, survey_id: str, case_id: str, expires_at: datetime) -> str:
    payload = f"{survey_id}.{case_id}.{int(expires_at.timestamp())}"
    return f"{payload}.{_sign(secret, payload)}"


def survey_url(site: str, token: str) -> str:
    return site.rstrip("/") + PATH + token


def read_survey_token(secret: str, token: str, now: datetime) -> tuple[str, str] | None:
    """(survey id, case id) of a valid, unexpired token; None otherwise (never says why)."""
    parts = token.rsplit(".", 3)
    if len(parts) != 4:
        return None
    survey_id, case_id, expiry, signature = parts
    expected = _sign(secret, f"{survey_id}.{case_id}.{expiry}")
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        return None
    # signed by us, so a well-formed number; bounded all the same
    if not expiry.isascii() or not expiry.isdigit() or int(expiry) > MAX_EXPIRY:
        return None
    if now >= datetime.fromtimestamp(int(expiry), UTC):
        return None
    return survey_id, case_id


def site_problem(url: str) -> str | None:
    """Why `url` cannot be the root of survey links (None: it can; empty means "this server")."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "must be an http(s) URL of the site, like https://help.example.com"
    if parts.query or parts.fragment:
        return "must not have a query or a fragment"
    if parts.path.rstrip("/").endswith("/s"):
        return f"is the site's root now; drop the trailing /s (links go to {PATH}<token>)"
    return None


def serving_site(host: str, port: int) -> str:
    """The root URL of a server listening on `host`:`port` (a wildcard address is reached on
    loopback; set `business.survey_base_url` for links customers can open)."""
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 (naming the wildcard, not binding it)
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
