"""`makegood replay` counts what the engine decided (issue 10, point 24): a resolve step's call
to the business's own systems (the `action` channel) is a resolution request, not a customer
message — on `ReplayStore` as on every store (the daily cap's side of it is the store
contract's `test_messages_per_day_counts_customer_messages_per_customer_and_day`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from makegood.adapters.policy_file import load_policy
from makegood.service_layer.replay import replay

from .conftest import StoreFactory

T = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def issues(count: int) -> list[dict[str, Any]]:
    """An item issue for each of `count` customers: each runs the shipped `item_problem`
    playbook (refund, apology, resolve with `refund_item`, follow-up)."""
    return [
        {
            "id": f"i{n}",
            "type": "order.item_issue",
            "occurred_at": (T + timedelta(minutes=n)).isoformat(),
            "customer_id": f"c{n}",
            "subject_id": f"o{n}",
            "attributes": {"issue": "missing", "item_value": "12.50"},
        }
        for n in range(count)
    ]


@pytest.mark.parametrize("count", [1, 3])
def test_replay_counts_resolution_requests_apart_from_messages(
    store_factory: StoreFactory, count: int
) -> None:
    store = None if store_factory.kind == "replay" else store_factory()
    figures = replay(issues(count), load_policy(), store=store).figures
    assert figures["resolution_requests"] == count
    assert "refund_item" not in figures["messages_by_template"]
    assert figures["messages_by_template"]["apology"] == count
