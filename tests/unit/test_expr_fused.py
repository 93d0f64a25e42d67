"""Comparisons read a short path (``type``, ``attributes.score``) inline, without a call of
their own; whatever the context holds, they answer exactly as the same comparison of any
other expression of the same value does. ``coalesce(x)`` is the value of ``x`` computed by a
call, so ``x OP c`` and ``coalesce(x) OP c`` must agree, errors included (but for the column)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from makegood.domain.errors import ExpressionError
from makegood.domain.expr import compile_expr


@dataclass
class Thing:
    score: Any
    tier: str = "gold"


leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from(["gold", "x", "a", "", "missing"]),
    st.sampled_from([1.0, 2.5, float("nan"), Decimal("2"), Decimal("2.50")]),
    st.sampled_from([timedelta(minutes=15), timedelta(hours=2)]),
    st.sampled_from([datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1)]),  # noqa: DTZ001
    st.builds(Thing, st.integers(0, 3)),
)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=2),
        st.dictionaries(st.sampled_from(["x", "score", "tier", "b"]), inner, max_size=3),
        st.dictionaries(st.sampled_from(["x", "score"]), inner, max_size=2).map(MappingProxyType),
    ),
    max_leaves=5,
)
contexts = st.dictionaries(
    st.sampled_from(["type", "attributes", "customer", "order", "a"]), values, max_size=5
)
PATHS = ["type", "attributes.x", "attributes.score", "customer.tier", "order", "a.b.x", "a.tier"]
OPERATORS = ["==", "!=", "<", "<=", ">", ">=", "in", "not in"]
CONSTANTS = ["null", '"gold"', '""', "2", "0", "2.5", "15m", "true", '["x", "gold"]', '[1, "x"]']


def outcome(source: str, ctx: dict[str, Any]) -> tuple[str, str]:
    try:
        return "value", repr(compile_expr(source)(ctx))
    except ExpressionError as error:
        return "error", re.sub(r" \(column \d+ of .*\)$", "", str(error))


@settings(max_examples=1_500, deadline=None, derandomize=True, database=None)
@given(st.sampled_from(PATHS), st.sampled_from(OPERATORS), st.sampled_from(CONSTANTS), contexts)
def test_a_comparison_of_a_path_is_the_comparison_of_its_value(
    path: str, operator: str, constant: str, ctx: dict[str, Any]
) -> None:
    inline = outcome(f"{path} {operator} {constant}", ctx)
    called = outcome(f"coalesce({path}) {operator} {constant}", ctx)
    assert inline == called


def test_the_usual_conditions_read_dicts_and_objects_alike() -> None:
    expr = compile_expr('type == "order.placed" and attributes.score <= 2')
    assert expr({"type": "order.placed", "attributes": {"score": 2}}) is True
    assert expr({"type": "order.placed", "attributes": Thing(1)}) is True
    assert expr({"type": "order.placed", "attributes": MappingProxyType({"score": 3})}) is False
    assert compile_expr("attributes.promised_at != null")({"attributes": {"promised_at": 0}})
    assert compile_expr("customer.tier in ['gold']")({"customer": Thing(0)})
    assert not compile_expr("customer.tier not in ['gold']")({"customer": Thing(0)})
