"""Read what `makegood text train --from-store` learns from: customers' messages, the ratings
that followed them, and the failures they raised (labelled in `domain/text_training.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from makegood.adapters.sql import schema as t
from makegood.adapters.sql.reviews import builtin_scales, scale_of, score_of
from makegood.domain.event import Event
from makegood.domain.policy import ReviewScale
from makegood.domain.recovery import ENGINE
from makegood.domain.text_training import Message, Outcome, RaisedFailure
from makegood.service_layer.text import TEXT_FIELDS, known_locale

MESSAGE = "message.received"


def rating_scales(reviews: Sequence[ReviewScale], satisfied_at: int) -> tuple[ReviewScale, ...]:
    """The policy's own rating scales, then the built-in csat and ces of ``survey.answered``."""
    return (*reviews, *builtin_scales(satisfied_at, 5))


def read_messages(connection: sa.Connection) -> list[Message]:
    """Every customer message with a text, oldest first, with what is known of its language."""
    e, c = t.events, t.customers
    locales = {row.id: row.locale for row in connection.execute(sa.select(c.c.id, c.c.locale))}
    messages = []
    for row in connection.execute(
        sa.select(e.c.id, e.c.customer_id, e.c.occurred_at, e.c.attributes)
        .where(e.c.type == MESSAGE)
        .order_by(e.c.occurred_at, e.c.id)
    ):
        attributes = row.attributes or {}
        text = next((attributes[f] for f in TEXT_FIELDS if attributes.get(f)), None)
        if not isinstance(text, str) or not text.strip():
            continue
        event = Event(row.id, MESSAGE, _aware(row.occurred_at), row.customer_id, None, attributes)
        locale = known_locale(event, locales.get(row.customer_id))
        messages.append(Message(row.id, row.customer_id, event.occurred_at, text, locale))
    return messages


def read_outcomes(connection: sa.Connection, scales: Sequence[ReviewScale]) -> list[Outcome]:
    """Every rating on a known scale (survey answers, the business's own reviews)."""
    e = t.events
    outcomes = []
    for row in connection.execute(
        sa.select(e.c.type, e.c.customer_id, e.c.occurred_at, e.c.attributes).where(
            e.c.type.in_({scale.type for scale in scales})
        )
    ):
        attributes = row.attributes or {}
        scale = scale_of(scales, row.type, attributes)
        score = score_of(attributes.get("score"))
        if scale is None or score is None or not scale.low <= score <= scale.high:
            continue
        outcomes.append(
            Outcome(
                row.customer_id,
                _aware(row.occurred_at),
                score,
                scale.low,
                scale.high,
                scale.satisfied_at,
            )
        )
    return outcomes


def read_raised_failures(connection: sa.Connection, message_ids: set[str]) -> list[RaisedFailure]:
    """The failures detected from those messages, and whether a person acted on their case."""
    f, tl = t.failures, t.timeline
    touched = {
        case_id
        for (case_id,) in connection.execute(
            sa.select(tl.c.case_id).where(tl.c.actor != ENGINE).distinct()
        )
    }
    raised = []
    for row in connection.execute(sa.select(f.c.case_id, f.c.category, f.c.evidence)):
        evidence: dict[str, Any] = row.evidence or {}
        message_id = evidence.get("event_id")
        if message_id not in message_ids:
            continue
        analysis = evidence.get("analysis") or {}
        raised.append(
            RaisedFailure(
                str(message_id),
                row.category,
                read_from_text=analysis.get("category") == row.category,
                confirmed=row.case_id in touched,
            )
        )
    return raised


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
