"""Signed webhooks: a JSON POST with an HMAC-SHA256 signature, Stripe-like (docs/WEBHOOKS.md).

    Makegood-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>

Answers map to `Delivery`: 2xx sent; 408, 429, 5xx, timeouts and connection errors temporary;
other 4xx, redirects (not followed) and bad URLs permanent. `verify_signature` is the receiving
side, for users' endpoints and for tests.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from types import TracebackType

import httpx

from makegood.domain.event import jsonable
from makegood.domain.message import Delivery, Rendered
from makegood.version import __version__

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Makegood-Signature"
_EXCERPT = 200
_TEMPORARY_4XX = frozenset({408, 425, 429})


def _as_bytes(value: bytes | str) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def sign(secret: bytes | str, body: bytes, timestamp: int) -> str:
    """The ``Makegood-Signature`` header value for `body` sent at `timestamp` (unix seconds)."""
    mac = hmac.new(_as_bytes(secret), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(
    secret: bytes | str,
    header: str,
    body: bytes | str,
    now: datetime | float | None = None,
    tolerance: timedelta | float = timedelta(seconds=300),
) -> bool:
    """True if `header` signs `body` (the raw bytes received) with `secret` and its timestamp is
    within `tolerance` of `now` (a datetime, unix seconds, or None for the current time).
    Several ``v1=`` values are accepted, so a sender may sign with an old and a new secret."""
    if isinstance(now, datetime):
        now_s = now.timestamp()
    else:
        now_s = time.time() if now is None else float(now)
    limit = tolerance.total_seconds() if isinstance(tolerance, timedelta) else float(tolerance)
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates or abs(now_s - timestamp) > limit:
        return False
    expected = sign(secret, _as_bytes(body), timestamp).partition(",v1=")[2]
    matches = [hmac.compare_digest(expected, c) for c in candidates]
    return any(matches)


def encode_payload(payload: object) -> bytes:
    """The body makegood sends: compact JSON, keys sorted, UTF-8."""
    text = json.dumps(jsonable(payload), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.encode("utf-8")


class WebhookChannel:
    """Implements `Channel`. Posts to the message's recipient URL, else to `default_url`.
    One `httpx.Client` (connection pool) for the channel's life: call `close()`."""

    name = "webhook"

    def __init__(
        self,
        secret: bytes | str,
        default_url: str | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secret:
            raise ValueError("a webhook secret is required")
        self.secret = _as_bytes(secret)
        self.default_url = default_url
        self.clock = clock
        self._client = httpx.Client(
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": f"makegood/{__version__}"},
        )

    def send(self, message: Rendered) -> Delivery:
        url = message.recipient or self.default_url
        if not url or not url.startswith(("http://", "https://")):
            return Delivery(ok=False, permanent=True, detail="no http(s) webhook URL")
        body = encode_payload(message.payload)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self.secret, body, int(self.clock())),
            "Idempotency-Key": message.idempotency_key,
            "Makegood-Message-Id": message.message_id,
        }
        try:
            with self._client.stream("POST", url, content=body, headers=headers) as response:
                excerpt = _read_excerpt(response)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            return Delivery(ok=False, permanent=True, detail=f"bad webhook URL: {exc}")
        except httpx.TimeoutException as exc:
            return Delivery(ok=False, detail=f"timeout: {type(exc).__name__}")
        except httpx.HTTPError as exc:  # connection refused, reset, DNS, protocol errors
            log.warning("webhook %s failed: %s", message.message_id, type(exc).__name__)
            return Delivery(ok=False, detail=f"{type(exc).__name__}: {exc}"[:300])
        return _delivery(response.status_code, excerpt)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> WebhookChannel:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _read_excerpt(response: httpx.Response) -> str:
    """The first bytes of the answer, whitespace collapsed; never the whole of a large body."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= 4 * _EXCERPT:
            break
    data = b"".join(chunks)
    try:
        text = data.decode(response.charset_encoding or "utf-8", "replace")
    except LookupError:  # a charset Python does not know
        text = data.decode("utf-8", "replace")
    return " ".join(text.split())[:_EXCERPT]


def _delivery(code: int, excerpt: str) -> Delivery:
    detail = f"HTTP {code}: {excerpt}" if excerpt else f"HTTP {code}"
    if 200 <= code < 300:
        return Delivery(ok=True, detail=detail, status_code=code)
    if 300 <= code < 400:
        return Delivery(
            ok=False,
            permanent=True,
            detail=f"{detail} (redirects are not followed)",
            status_code=code,
        )
    permanent = 400 <= code < 500 and code not in _TEMPORARY_4XX
    return Delivery(ok=False, permanent=permanent, detail=detail, status_code=code)
