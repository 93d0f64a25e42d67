"""Sources: a business's own webhooks (an order system, a status page, a helpdesk) turned into
events by a mapping in the policy, with no code.

    sources:
      - name: shopify
        auth: {scheme: hmac, header: X-Shopify-Hmac-Sha256, encoding: base64,
               secret_env: SHOPIFY_WEBHOOK_SECRET}
        events:
          - when: headers["x-shopify-topic"] == "orders/create"
            type: order.placed
            id: '"shopify:order:" + str(body.id)'
            customer: lower(body.email)
            ...

Each entry of `events` whose `when` holds gives one event, so a payload gives zero, one or
several. Its fields are expressions over ``body`` (the parsed JSON), ``headers`` (names in lower
case) and ``query``. `map_payload` returns the raw events (the envelope `parse_event` checks) or
a `Rejection` naming the entry and field that did not map. The secret is never in the policy:
`auth.secret_env` names the environment variable the composition root reads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from makegood.domain.errors import ExpressionError, PolicyError
from makegood.domain.event import BUILTIN_TYPES, TYPE_PATTERN, Rejection, jsonable
from makegood.domain.expr import Expr, compile_expr, parse_duration

_STRICT: Any = {"extra": "forbid"}
SOURCE_NAMES = frozenset({"body", "headers", "query"})
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
ENV_PATTERN = re.compile(r"^[A-Z_][A-Z0-9_]*$")
DEFAULT_HEADERS = {"hmac": "", "stripe": "Stripe-Signature", "token": "Authorization"}


@dataclass(frozen=True)
class SourceAuth:
    """How a source's requests prove where they come from.

    `hmac`: HMAC of the raw body (prefixed by the `timestamp_header` value when given, as
    Zendesk signs) in `header`, `encoding` base64 or hex, after an optional `prefix`.
    `stripe`: a ``t=<unix>,v1=<hex>`` header; the HMAC-SHA256 of ``"<t>.<body>"``, at most
    `tolerance` old. `token`: a shared token in `header` (after `prefix`, "Bearer " by default
    for Authorization) or in the `query` parameter."""

    __pydantic_config__ = _STRICT
    scheme: Literal["hmac", "stripe", "token"]
    secret_env: str
    header: str | None = None
    encoding: Literal["base64", "hex"] = "hex"
    algorithm: Literal["sha256", "sha1", "sha512"] = "sha256"
    prefix: str | None = None
    timestamp_header: str | None = None
    tolerance: str = "5m"
    query: str | None = None


@dataclass(frozen=True)
class SourceEvent:
    """One event a payload may give: `type` is an event type; the others are expressions."""

    __pydantic_config__ = _STRICT
    type: str
    id: str
    customer: str
    occurred_at: str
    when: str | None = None
    subject: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Source:
    __pydantic_config__ = _STRICT
    name: str
    auth: SourceAuth
    events: tuple[SourceEvent, ...]


@dataclass(frozen=True)
class CompiledEvent:
    spec: SourceEvent
    when: Expr | None
    fields: tuple[tuple[str, Expr], ...]  # id, customer, occurred_at, subject?, in that order
    attributes: tuple[tuple[str, Expr], ...]


@dataclass(frozen=True)
class CompiledSource:
    spec: Source
    events: tuple[CompiledEvent, ...]
    tolerance: timedelta  # how old a stripe-style signature may be

    @property
    def name(self) -> str:
        return self.spec.name


def _expr(source: str, path: str) -> Expr:
    try:
        compiled = compile_expr(source)
    except ExpressionError as error:
        raise PolicyError(str(error), path) from None
    unknown = sorted(compiled.names - SOURCE_NAMES)
    if unknown:
        known = ", ".join(sorted(SOURCE_NAMES))
        raise PolicyError(f"unknown name {unknown[0]!r} in {source!r}; known: {known}", path)
    return compiled


def _event(spec: SourceEvent, path: str) -> CompiledEvent:
    if not (TYPE_PATTERN.match(spec.type) or spec.type in BUILTIN_TYPES):
        raise PolicyError("type must be an event type like order.placed", f"{path}.type")
    named = [("id", spec.id), ("customer", spec.customer), ("occurred_at", spec.occurred_at)]
    if spec.subject is not None:
        named.append(("subject", spec.subject))
    return CompiledEvent(
        spec,
        _expr(spec.when, f"{path}.when") if spec.when is not None else None,
        tuple((name, _expr(text, f"{path}.{name}")) for name, text in named),
        tuple(
            (name, _expr(text, f"{path}.attributes.{name}"))
            for name, text in spec.attributes.items()
        ),
    )


def _auth(auth: SourceAuth, path: str) -> timedelta:
    if not ENV_PATTERN.match(auth.secret_env):
        raise PolicyError(
            "secret_env names an environment variable (e.g. SHOPIFY_WEBHOOK_SECRET); "
            "the secret itself never goes in the policy",
            f"{path}.secret_env",
        )
    if auth.scheme == "hmac" and not auth.header:
        raise PolicyError("an hmac source names the header of its signature", f"{path}.header")
    if auth.scheme == "token" and auth.header and auth.query:
        raise PolicyError("give the token's header or its query parameter, not both", path)
    try:
        return parse_duration(auth.tolerance)
    except ValueError:
        raise PolicyError(f"not a duration: {auth.tolerance!r}", f"{path}.tolerance") from None


def compile_sources(sources: tuple[Source, ...]) -> tuple[CompiledSource, ...]:
    """Compile the `sources:` section; a `PolicyError` names the path of the first problem."""
    compiled: list[CompiledSource] = []
    seen: set[str] = set()
    for i, source in enumerate(sources):
        path = f"sources[{i}]"
        if not NAME_PATTERN.match(source.name):
            raise PolicyError("a source name is lower-case letters, digits, - and _", path)
        if source.name in seen:
            raise PolicyError(f"source name {source.name!r} is used twice", f"{path}.name")
        seen.add(source.name)
        if not source.events:
            raise PolicyError("a source maps its payloads to at least one event", f"{path}.events")
        tolerance = _auth(source.auth, f"{path}.auth")
        events = tuple(_event(e, f"{path}.events[{j}]") for j, e in enumerate(source.events))
        compiled.append(CompiledSource(source, events, tolerance))
    return tuple(compiled)


_REQUIRED = frozenset({"id", "customer", "occurred_at"})
_ENVELOPE = {
    "id": "id",
    "customer": "customer_id",
    "subject": "subject_id",
    "occurred_at": "occurred_at",
}


def _envelope_value(source: str, name: str, value: Any) -> Any:
    if name == "occurred_at" and isinstance(value, datetime):
        return value.isoformat()
    if name in ("id", "customer", "subject") and type(value) is int:
        value = str(value)
    if name == "id" and isinstance(value, str):
        return f"{source}:{value}"  # ids of different sources never collide
    return value


def map_payload(
    source: CompiledSource,
    body: Any,
    headers: Mapping[str, str],
    query: Mapping[str, str] | None = None,
) -> list[dict[str, Any]] | Rejection:
    """The raw events a payload gives (each still to be validated by `parse_event`), or why it
    does not map. Pure: `headers` are expected with lower-case names. Each event's id is
    prefixed with the source's name, so two sources never share an idempotency key."""
    context = {"body": body, "headers": headers, "query": query or {}}
    raws: list[dict[str, Any]] = []
    for j, event in enumerate(source.events):
        if event.when is not None and not event.when.test(context):
            continue
        raw: dict[str, Any] = {"type": event.spec.type}
        for name, expr in event.fields:
            value = _evaluate(source.name, expr, context, f"events[{j}].{name}")
            if isinstance(value, Rejection):
                return value
            if value is None and name in _REQUIRED:
                reason = f"{source.name}: {expr.source!r} gave null"
                return Rejection(f"events[{j}].{name}", reason)
            if value is not None:
                raw[_ENVELOPE[name]] = _envelope_value(source.name, name, value)
        attributes: dict[str, Any] = {}
        for name, expr in event.attributes:
            value = _evaluate(source.name, expr, context, f"events[{j}].attributes.{name}")
            if isinstance(value, Rejection):
                return value
            if value is not None:  # a field the payload lacks is left out, not null
                attributes[name] = value
        raw["attributes"] = attributes
        raws.append(jsonable(raw))
    return raws


def _evaluate(source: str, expr: Expr, context: Mapping[str, Any], where: str) -> Any:
    try:
        return expr(context)
    except ExpressionError as error:
        return Rejection(where, f"{source}: {error}")
