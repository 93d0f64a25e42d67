"""POST /v1/events with batches of 100 from a concurrent client on loopback.

Starts `makegood serve` on a fresh SQLite store, then sends batches at a fixed rate (open loop:
a request leaves on schedule whether or not earlier ones answered) and reports requests/s,
events/s and the p50/p99 latency.

    .venv/bin/python bench/api.py --rate 200 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from api.server import make_server


def batch(n: int, size: int, start: datetime) -> list[dict[str, object]]:
    events: list[dict[str, object]] = []
    for i in range(size):
        k = n * size + i
        at = (start + timedelta(milliseconds=k)).isoformat()
        if k % 2 == 0:
            events.append(
                {
                    "id": f"b-{k}",
                    "type": "order.placed",
                    "occurred_at": at,
                    "customer_id": f"c-{k % 5000}",
                    "subject_id": f"o-{k}",
                    "attributes": {
                        "promised_at": (start + timedelta(hours=1)).isoformat(),
                        "value": "23.50",
                    },
                }
            )
        else:
            events.append(
                {
                    "id": f"b-{k}",
                    "type": "order.delivered",
                    "occurred_at": at,
                    "customer_id": f"c-{(k - 1) % 5000}",
                    "subject_id": f"o-{k - 1}",
                }
            )
    return events


async def run(
    url: str, token: str, rate: float, seconds: float, size: int, concurrency: int
) -> dict[str, float]:
    start = datetime.now(UTC)
    total = int(rate * seconds)
    bodies = [batch(n, size, start) for n in range(total)]
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=url, limits=limits, timeout=30, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        await client.post("/v1/events", json=batch(10**6, 1, start))  # warm up
        began = time.perf_counter()

        async def one(n: int) -> None:
            nonlocal errors
            await asyncio.sleep(max(began + n / rate - time.perf_counter(), 0))
            sent = time.perf_counter()
            try:
                response = await client.post("/v1/events", json=bodies[n])
            except httpx.TransportError:
                errors += 1
                return
            latencies.append((time.perf_counter() - sent) * 1000)
            errors += response.status_code != 200

        await asyncio.gather(*(one(n) for n in range(total)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "requests": total,
        "errors": errors,
        "seconds": round(elapsed, 2),
        "requests_per_s": round(total / elapsed, 1),
        "events_per_s": round(total * size / elapsed),
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[min(int(len(latencies) * 0.99), len(latencies) - 1)], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200, help="requests per second")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        server = make_server(Path(directory)).start()
        try:
            result = asyncio.run(
                run(
                    server.url,
                    server.tokens["ingest"],
                    args.rate,
                    args.seconds,
                    args.batch,
                    args.concurrency,
                )
            )
        finally:
            server.stop()
            tail = server.log.read_text(encoding="utf-8").splitlines()
            problems = [line for line in tail if "ERROR" in line or "Traceback" in line]
            if problems:
                print("\n".join(problems[:5]), file=sys.stderr)
    print(
        f"POST /v1/events, batches of {args.batch}, offered {args.rate:g} req/s for "
        f"{args.seconds:g} s on loopback (SQLite):"
    )
    for key, value in result.items():
        print(f"  {key:16} {value}")


if __name__ == "__main__":
    main()
