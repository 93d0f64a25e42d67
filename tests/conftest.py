"""Shared fixtures: a frozen clock, the shipped policy, an engine on the in-memory store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from helpers import T0, ev, minutes  # noqa: F401 (re-exported for fixtures)
from makegood.adapters.policy_file import load_policy
from makegood.domain.rules import CompiledPolicy
from makegood.service_layer.engine import Engine
from makegood.testing import FrozenClock, InMemoryStore, counting_codes


@pytest.fixture(scope="session")
def policy() -> CompiledPolicy:
    return load_policy()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def make_engine(policy: CompiledPolicy, clock: FrozenClock) -> Callable[..., Engine]:
    def make(store: Any = None, event_time: bool = False, **kw: Any) -> Engine:
        return Engine(
            store if store is not None else InMemoryStore(),
            kw.pop("policy", policy),
            clock,
            event_time=event_time,
            new_code=counting_codes(),
            **kw,
        )

    return make
