"""Signed, expiring survey links: ``<base>/<survey id>.<expiry>.<signature>``.

Single use is the store's job (an answered survey is not answered again); the signature keeps
anyone from forging a link for another case, the expiry keeps old links from working forever.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime


def _sign(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def survey_token(secret: str, survey_id: str, case_id: str, expires_at: datetime) -> str:
    payload = f"{survey_id}.{case_id}.{int(expires_at.timestamp())}"
    return f"{payload}.{_sign(secret, payload)}"


def read_survey_token(secret: str, token: str, now: datetime) -> tuple[str, str] | None:
    """(survey id, case id) of a valid, unexpired token; None otherwise (never says why)."""
    try:
        survey_id, case_id, expiry, signature = token.rsplit(".", 3)
        expires_at = datetime.fromtimestamp(int(expiry), UTC)
    except ValueError:
        return None
    if not hmac.compare_digest(signature, _sign(secret, f"{survey_id}.{case_id}.{expiry}")):
        return None
    if now >= expires_at:
        return None
    return survey_id, case_id
