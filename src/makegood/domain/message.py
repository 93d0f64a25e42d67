"""Messages on their way out: what the outbox holds, what a channel receives, what it answers.

The decision writes an `OutboxMessage` (template name + context) in the same transaction as the
failure or compensation it belongs to; a dispatcher renders it and hands a `Rendered` message to a
`Channel`, which answers with a `Delivery`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ACTION = "action"  # the channel of calls to the business's own systems (not to the customer)
PENDING = "pending"
SENT = "sent"
DEAD = "dead"


@dataclass(slots=True)
class OutboxMessage:
    id: str
    key: str  # unique idempotency key: one decision, one message, whatever is replayed
    case_id: str | None
    customer_id: str
    channel: str  # email | webhook | file | ...
    template: str  # template name (e.g. "apology"), or the webhook action
    locale: str
    recipient: str | None  # address or URL; None lets the channel use its default
    context: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    status: str = PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message ready for a channel. `idempotency_key` travels to the provider as a header."""

    message_id: str
    idempotency_key: str
    channel: str
    recipient: str | None
    subject: str
    text: str
    html: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)  # webhooks: the JSON body


@dataclass(frozen=True, slots=True)
class Delivery:
    """A channel's answer. `permanent` failures are not retried (e.g. HTTP 400, bad address)."""

    ok: bool
    permanent: bool = False
    detail: str = ""
    status_code: int | None = None
