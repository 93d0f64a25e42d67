"""Checking that a webhook request comes from its source, before anything is read from it.

    verify(auth, secret, body, headers, query, now) -> None when genuine, else the reason
    sign(auth, secret, body, now) -> the headers (or query) a genuine sender would add

Every comparison is constant-time (`hmac.compare_digest`); the signature covers the raw body
exactly as received. `headers` are expected with lower-case names.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

from makegood.domain.source import DEFAULT_HEADERS, CompiledSource, SourceAuth

__all__ = ["sign", "verify"]


def _digest(auth: SourceAuth, secret: str, message: bytes) -> bytes:
    algorithm = auth.algorithm if auth.scheme == "hmac" else "sha256"
    return hmac.new(secret.encode(), message, getattr(hashlib, algorithm)).digest()


def _header(auth: SourceAuth) -> str:
    return (auth.header or DEFAULT_HEADERS[auth.scheme]).lower()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _hmac(auth: SourceAuth, secret: str, body: bytes, headers: Mapping[str, str]) -> str | None:
    given = headers.get(_header(auth))
    if not given:
        return f"the {auth.header} header is missing"
    prefix = auth.prefix or ""
    if not given.startswith(prefix):
        return f"the {auth.header} header does not start with {prefix!r}"
    stamp = b""
    if auth.timestamp_header:
        stamp_text = headers.get(auth.timestamp_header.lower())
        if not stamp_text:
            return f"the {auth.timestamp_header} header is missing"
        stamp = stamp_text.encode()
    digest = _digest(auth, secret, stamp + body)
    signature = given[len(prefix) :].strip()
    if auth.encoding == "base64":
        try:
            decoded = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            return "the signature is not base64"
        return None if hmac.compare_digest(decoded, digest) else "the signature does not match"
    return None if _same(signature.lower(), digest.hex()) else "the signature does not match"


def _stripe(
    source: CompiledSource, secret: str, body: bytes, headers: Mapping[str, str], now: datetime
) -> str | None:
    auth = source.spec.auth
    given = headers.get(_header(auth))
    if not given:
        return f"the {auth.header or DEFAULT_HEADERS['stripe']} header is missing"
    parts = [p.split("=", 1) for p in given.split(",") if "=" in p]
    stamps = [v.strip() for k, v in parts if k.strip() == "t"]
    signatures = [v.strip() for k, v in parts if k.strip() == "v1"]
    if len(stamps) != 1 or not stamps[0].isdigit() or not signatures:
        return "the signature header is not t=<unix time>,v1=<signature>"
    if abs(now.timestamp() - int(stamps[0])) > source.tolerance.total_seconds():
        return "the signature's timestamp is outside the tolerance"
    expected = _digest(auth, secret, stamps[0].encode() + b"." + body).hex()
    matches = [_same(s.lower(), expected) for s in signatures]  # every one, in constant time
    return None if any(matches) else "the signature does not match"


def _token(
    auth: SourceAuth, secret: str, headers: Mapping[str, str], query: Mapping[str, str]
) -> str | None:
    if auth.query:
        given = query.get(auth.query)
        where = f"the {auth.query} query parameter"
    else:
        given = headers.get(_header(auth))
        where = f"the {auth.header or DEFAULT_HEADERS['token']} header"
        prefix = _token_prefix(auth)
        if given is not None:
            if not given.startswith(prefix):
                return f"{where} does not start with {prefix!r}"
            given = given[len(prefix) :]
    if not given:
        return f"{where} is missing"
    return None if _same(given.strip(), secret) else "the token does not match"


def _token_prefix(auth: SourceAuth) -> str:
    if auth.prefix is not None:
        return auth.prefix
    return "Bearer " if _header(auth) == "authorization" else ""


def verify(
    source: CompiledSource,
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    now: datetime,
) -> str | None:
    """None when the request is genuine; otherwise why not (for the 401, never the secret)."""
    auth = source.spec.auth
    if not secret:
        return "no secret is configured for this source"
    if auth.scheme == "hmac":
        return _hmac(auth, secret, body, headers)
    if auth.scheme == "stripe":
        return _stripe(source, secret, body, headers, now)
    return _token(auth, secret, headers, query)


def sign(
    source: CompiledSource, secret: str, body: bytes, now: datetime, timestamp: str | None = None
) -> dict[str, str]:
    """What a genuine sender adds to its request: header names as configured (a `token` source
    read from the query gets ``{"?<param>": token}``). For tests, docs and `curl` examples."""
    auth = source.spec.auth
    if auth.scheme == "stripe":
        stamp = str(int(now.timestamp()))
        signature = _digest(auth, secret, stamp.encode() + b"." + body).hex()
        return {auth.header or DEFAULT_HEADERS["stripe"]: f"t={stamp},v1={signature}"}
    if auth.scheme == "token":
        if auth.query:
            return {f"?{auth.query}": secret}
        return {auth.header or DEFAULT_HEADERS["token"]: _token_prefix(auth) + secret}
    headers: dict[str, str] = {}
    stamp_bytes = b""
    if auth.timestamp_header:
        stamp_text = timestamp or now.isoformat().replace("+00:00", "Z")
        headers[auth.timestamp_header] = stamp_text
        stamp_bytes = stamp_text.encode()
    digest = _digest(auth, secret, stamp_bytes + body)
    encoded = base64.b64encode(digest).decode() if auth.encoding == "base64" else digest.hex()
    headers[str(auth.header)] = (auth.prefix or "") + encoded
    return headers
