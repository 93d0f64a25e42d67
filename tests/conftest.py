"""Shared fixtures: a frozen clock, the shipped policy, an engine on the in-memory store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from makegood.adapters.policy_file import load_policy
from makegood.domain.rules import CompiledPolicy
from makegood.service_layer.engine import Engine
from makegood.testing import FrozenClock, InMemoryStore, counting_codes

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def policy() -> CompiledPolicy:
    return load_policy()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def make_engine(policy: CompiledPolicy, clock: FrozenClock) -> Callable[..., Engine]:
    def make(store: Any = None, event_time: bool = False, **kw: Any) -> Engine:
        return Engine(store if store is not None else InMemoryStore(), kw.pop("policy", policy),
                      clock, event_time=event_time, new_code=counting_codes(), **kw)

    return make


def ev(id: str, type: str, at: datetime, customer: str = "c1", subject: str | None = None,
       **attributes: Any) -> dict[str, Any]:
    """A raw event as a source would send it."""
    event: dict[str, Any] = {"id": id, "type": type, "occurred_at": at.isoformat(),
                             "customer_id": customer, "attributes": _jsonable(attributes)}
    if subject is not None:
        event["subject_id"] = subject
    return event


def _jsonable(attributes: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in attributes.items()}


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
