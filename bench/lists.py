"""Read-side benchmark: how long the dashboard's lists and their API pages take once the store
holds many events (issue 11 point 7: the queue page took 5.3 s after 200k events).

    python bench/lists.py [--orders 85000] [--customers 12000] [--db PATH] [--repeat 15]

Ingests the simulator's food-delivery stream (event time, shipped policy) into a SQLite file
(kept, so `--db` reruns only the reads), then times each page in-process: the first page, a
deep page (the cursor after walking every page), and the whole walk. Prints a Markdown table
for docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import platform
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from makegood.adapters.clock import SystemClock
from makegood.adapters.policy_file import load_policy
from makegood.adapters.sql import schema as t
from makegood.adapters.sql.auth import create_token
from makegood.adapters.sql.store import SqlStore
from makegood.adapters.voucher import new_voucher_code
from makegood.bootstrap import bootstrap
from makegood.config import Settings
from makegood.entrypoints.api import create_app
from makegood.entrypoints.demo.simulator import SimulationSettings, Simulator
from makegood.service_layer.engine import Engine


def fill(path: Path, orders: int, customers: int) -> float:
    sim = Simulator(SimulationSettings(orders=orders, customers=customers))
    events = sim.advance(sim.horizon)
    store = SqlStore(f"sqlite:///{path}")
    store.migrate()
    engine = Engine(store, load_policy(), SystemClock(), event_time=True, new_code=new_voucher_code)
    started = time.perf_counter()
    for start in range(0, len(events), 2000):
        engine.ingest(events[start : start + 2000], source="bench")
    store.dispose()
    print(f"ingested {len(events):,} events in {time.perf_counter() - started:.0f} s")
    return time.perf_counter() - started


def timed(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(median, max) milliseconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def last_cursor(client: TestClient, path: str) -> tuple[str | None, int, float]:
    """The cursor of the last page, the number of pages, and the whole walk's milliseconds."""
    cursor, pages, previous = None, 0, None
    started = time.perf_counter()
    while True:
        body = client.get(path, params={"limit": 50, **({"cursor": cursor} if cursor else {})})
        pages += 1
        next_cursor = body.json()["next_cursor"]
        if next_cursor is None:
            return previous, pages, (time.perf_counter() - started) * 1000
        previous, cursor = cursor, next_cursor


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=85_000)
    parser.add_argument("--customers", type=int, default=12_000)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    path = args.db or Path(tempfile.mkdtemp(prefix="makegood-lists-")) / "lists.db"
    if not path.exists():
        fill(path, args.orders, args.customers)
    app = bootstrap(Settings(database_url=f"sqlite:///{path}", secret="bench"))  # noqa: S106 (a throwaway store)
    token = create_token(app.store.engine, "admin", "bench", datetime.now(UTC))[1]
    with app.store.engine.connect() as c:
        counts = {
            name: c.scalar(sa.select(sa.func.count()).select_from(table))
            for name, table in (
                ("events", t.events),
                ("cases", t.cases),
                ("compensations", t.compensations),
            )
        }
    api = TestClient(create_app(app), headers={"Authorization": f"Bearer {token}"})
    page = TestClient(create_app(app))
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.get("/login").text)
    assert csrf is not None
    page.post("/login", data={"token": token, "csrf": csrf.group(1)})
    print(
        f"store: {path} — {counts['events']:,} events, {counts['cases']:,} cases, "
        f"{counts['compensations']:,} compensations; {platform.machine()}, "
        f"Python {platform.python_version()}\n"
    )
    print("| list | total | first page (median / max ms) | last page (median ms) | walk |")
    print("|---|---|---|---|---|")
    for path_ in ("/v1/queue", "/v1/approvals", "/v1/cases", "/v1/incidents"):
        total = api.get(path_, params={"limit": 1}).json()["total"]
        first = timed(lambda p=path_: api.get(p), args.repeat)
        cursor, pages, walk = last_cursor(api, path_)
        last = (
            timed(lambda p=path_, c=cursor: api.get(p, params={"cursor": c}), args.repeat)[0]
            if cursor
            else first[0]
        )
        print(
            f"| `GET {path_}` | {total:,} | {first[0]:.0f} / {first[1]:.0f} | {last:.0f} "
            f"| {pages} pages in {walk / 1000:.1f} s |"
        )
    for path_ in ("/", "/approvals", "/incidents"):
        median, worst = timed(lambda p=path_: page.get(p), args.repeat)
        size = len(page.get(path_).content)
        print(f"| dashboard `{path_}` | | {median:.0f} / {worst:.0f} | | {size / 1024:.0f} KiB |")
    # what every open queue or case page asks each second (304 while nothing changed)
    etag = page.get("/live/queue").headers["etag"]
    median, worst = timed(
        lambda: page.get("/live/queue", headers={"if-none-match": etag}), args.repeat
    )
    print(f"| live marker `/live/queue` (304) | | {median:.1f} / {worst:.1f} | | |")
    app.store.dispose()


if __name__ == "__main__":
    main()
