"""Incident fan-out: a monitoring alert declares an incident affecting N customers with open
orders in one area; how long until every proactive message is in the outbox?

    python bench/incident.py [--customers 10000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from makegood.adapters.policy_file import load_policy
from makegood.adapters.sql import schema as t
from makegood.adapters.sql.store import SqlStore
from makegood.adapters.voucher import new_voucher_code
from makegood.service_layer.engine import Engine
from makegood.testing import FrozenClock

T0 = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)


def run(url: str, customers: int) -> None:
    store = SqlStore(url)
    store.migrate()
    clock = FrozenClock(T0)
    engine = Engine(
        store, load_policy(), clock, event_time=False, new_code=new_voucher_code, batch_size=5000
    )
    orders = [
        {
            "id": f"p{i}",
            "type": "order.placed",
            "occurred_at": T0.isoformat(),
            "customer_id": f"c{i}",
            "subject_id": f"o{i}",
            "attributes": {
                "promised_at": (T0 + timedelta(minutes=40)).isoformat(),
                "value": 20,
                "area": "Belém",
            },
        }
        for i in range(customers)
    ]
    engine.ingest(orders)
    clock.advance(timedelta(minutes=5))
    alert = {
        "id": "alert-1",
        "type": "service.alert",
        "occurred_at": clock.now().isoformat(),
        "customer_id": "system:monitoring",
        "attributes": {"status": "down", "area": "Belém", "service": "couriers"},
    }
    started = time.perf_counter()
    engine.ingest([alert])
    declared = time.perf_counter() - started
    other = [
        {
            "id": f"x{i}",
            "type": "purchase",
            "occurred_at": clock.now().isoformat(),
            "customer_id": f"other{i}",
            "attributes": {"value": 10},
        }
        for i in range(1000)
    ]
    started = time.perf_counter()
    engine.ingest(other)
    after = time.perf_counter() - started
    with store.engine.connect() as c:
        told = c.scalar(
            sa.select(sa.func.count())
            .select_from(t.outbox)
            .where(t.outbox.c.template == "incident")
        )
    store.dispose()
    print(
        f"incident affecting {customers:,} customers: declared and {told:,} proactive "
        f"messages in the outbox in {declared:.2f} s ({told / declared:,.0f} messages/s); "
        f"the next 1,000 other events took {after:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(args.database_url or f"sqlite:///{Path(tmp) / 'incident.db'}", args.customers)


if __name__ == "__main__":
    main()
