"""ASGI middleware: a body size limit, security headers, an access log without personal data,
and a small per-client rate limiter.

`Guard` also refuses (400) a URL whose path or query holds a NUL character, before any route
sees it: PostgreSQL cannot compare or store one, so it would otherwise end as a 500."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("makegood.http")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
PHONE = re.compile(r"(?<![\w-])\+?\(?\d[\d ()-]{6,}\d(?!\w)")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
# Swagger UI starts itself with an inline script
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
)
HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def redact(text: str) -> str:
    """No e-mail address or phone number reaches a log."""
    return PHONE.sub(_phone, EMAIL.sub("[email]", text))


def _phone(match: re.Match[str]) -> str:
    found = match.group(0)
    digits = sum(ch.isdigit() for ch in found)
    if DATE.match(found) or (digits < 10 and not (found.startswith("+") and digits >= 8)):
        return found
    return "[phone]"


class RedactingFilter(logging.Filter):
    """Redacts the message and any traceback (a database error's text may quote the row)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # formatters use exc_text when it is set, so the raw traceback is never printed
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def log_path(path: str) -> str:
    """Survey tokens are capabilities: keep them out of the access log."""
    return "/s/[token]" if path.startswith("/s/") else redact(path)


class Guard:
    """Refuses bodies over `max_body` bytes (413), adds security headers, logs each request."""

    def __init__(self, app: ASGIApp, max_body: int, on_response: Callable[[int], None]) -> None:
        self.app = app
        self.max_body = max_body
        self.on_response = on_response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope.get("path", "")
        status = 500
        if "\x00" in path or _has_nul(scope.get("query_string", b"")):
            await _refuse(send, 400, "url", "contains a NUL character")
            self._log(scope, 400, started)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body:
                await _too_large(send, self.max_body)
                self._log(scope, 413, started)
                return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge
            return message

        started_response = False

        async def with_headers(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                started_response = True
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.extend(HEADERS)
                csp = DOCS_CSP if path in ("/docs", "/docs/oauth2-redirect") else CSP
                headers.append((b"content-security-policy", csp.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, limited, with_headers)
        except BodyTooLarge:
            status = 413
            await _too_large(send, self.max_body)
        except Exception:
            # answered here, so the connection stays usable (the server would drop it); the
            # traceback goes through the log's redaction like any other record
            status = 500
            log.exception("unhandled error in %s %s", scope.get("method"), log_path(path))
            if not started_response:
                await _error(send, 500, b'{"detail":"internal server error"}')
        finally:
            self._log(scope, status, started)

    def _log(self, scope: Scope, status: int, started: float) -> None:
        self.on_response(status)
        log.info(
            "%s %s %d %.1fms",
            scope.get("method"),
            log_path(scope.get("path", "")),
            status,
            (time.perf_counter() - started) * 1000,
        )


class BodyTooLarge(Exception):
    pass


def _has_nul(query: bytes) -> bool:
    return b"\x00" in query or b"%00" in query


async def _too_large(send: Send, limit: int) -> None:
    await _refuse(send, 413, "body", f"larger than {limit} bytes")


async def _refuse(send: Send, status: int, field: str, reason: str) -> None:
    body = json.dumps({"detail": [{"index": None, "field": field, "reason": reason}]}).encode()
    await _error(send, status, body)


async def _error(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RateLimiter:
    """A token bucket per client address: `rate` requests per minute, bursts of `burst`."""

    def __init__(self, rate: float = 30, burst: int = 10) -> None:
        self.per_second = rate / 60
        self.burst = burst
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def allow(self, client: str) -> bool:
        now = time.monotonic()
        with self.lock:
            if len(self.buckets) > 50_000:
                self.buckets.clear()
            tokens, at = self.buckets.get(client, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - at) * self.per_second)
            if tokens < 1:
                self.buckets[client] = (tokens, now)
                return False
            self.buckets[client] = (tokens - 1, now)
            return True
