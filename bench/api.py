"""POST /v1/events with batches of 100 from a concurrent client on loopback.

Starts `makegood serve` on a fresh SQLite store, then sends batches at a fixed rate (open loop:
a request leaves on schedule whether or not earlier ones answered) and reports requests/s,
events/s and the p50/p99 latency.

    .venv/bin/python bench/api.py --rate 200 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
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


class Connection:
    """One keep-alive HTTP/1.1 connection that sends prebuilt requests and reads the status and
    the body (by Content-Length). httpx spent more CPU per request than the server did and
    its pool, with thousands of requests waiting at 200 requests/s, left the server idle while
    the client ran flat out: the bench measured itself."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, request: bytes) -> int:
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def request_bytes(host: str, token: str, body: object) -> bytes:
    content = json.dumps(body).encode()
    head = (
        f"POST /v1/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(content)}\r\n\r\n"
    )
    return head.encode() + content


async def run(
    url: str, token: str, rate: float, seconds: float, size: int, concurrency: int
) -> dict[str, object]:
    """Open loop: request n is due at n / rate; it waits for a free connection (at most
    `concurrency`), and its latency counts from when it was due."""
    address = httpx.URL(url)
    host, port = str(address.host), int(address.port or 80)
    start = datetime.now(UTC)
    total = int(rate * seconds)
    requests = [request_bytes(host, token, batch(n, size, start)) for n in range(total)]
    latencies: list[float] = []
    errors = 0
    due: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    connections = [Connection(host, port) for _ in range(concurrency)]
    warm = await connections[0].send(request_bytes(host, token, batch(10**6, 1, start)))
    assert warm == 200, f"warm-up answered {warm}"

    async def worker(connection: Connection) -> None:
        nonlocal errors
        while (item := await due.get()) is not None:
            n, at = item
            try:
                status = await connection.send(requests[n])
            except (OSError, asyncio.IncompleteReadError, ValueError):
                connection.close()
                errors += 1
                continue
            latencies.append((time.perf_counter() - at) * 1000)
            errors += status != 200

    workers = [asyncio.create_task(worker(c)) for c in connections]
    began = time.perf_counter()
    for n in range(total):
        at = began + n / rate
        await asyncio.sleep(max(at - time.perf_counter(), 0))
        due.put_nowait((n, at))
    for _ in workers:
        due.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - began
    for connection in connections:
        connection.close()
    latencies.sort()
    return {
        "requests": total,
        "errors": errors,
        "seconds": round(elapsed, 2),
        "requests_per_s": round(total / elapsed, 1),
        "events_per_s": round(total * size / elapsed),
        "p50_ms": round(statistics.median(latencies), 1) if latencies else float("nan"),
        "p99_ms": round(latencies[min(int(len(latencies) * 0.99), len(latencies) - 1)], 1)
        if latencies
        else float("nan"),
        "max_ms": round(latencies[-1], 1) if latencies else float("nan"),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Backlog:
    """The engine's backlog, polled from the store read-only: events appended (the log's head)
    less the place the engine has acted on up to (`engine_state.applied`)."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.samples: list[tuple[float, int, int]] = []  # (seconds, head, applied)
        self.stop = threading.Event()
        self.began = time.perf_counter()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        connection = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=5)
        try:
            while not self.stop.wait(0.5):
                head = connection.execute("SELECT max(seq) FROM events").fetchone()[0] or 0
                row = connection.execute(
                    "SELECT value FROM engine_state WHERE name = 'applied'"
                ).fetchone()
                applied = int(row[0]) if row else 0
                self.samples.append((time.perf_counter() - self.began, head, applied))
        finally:
            connection.close()

    def wait_drained(self, limit: float) -> float | None:
        """Seconds until the engine caught up with the log (None: not within `limit`)."""
        began = time.perf_counter()
        while time.perf_counter() - began < limit:
            if self.samples and self.samples[-1][1] == self.samples[-1][2]:
                return time.perf_counter() - began
            time.sleep(0.25)
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200, help="requests per second")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--drain", type=float, default=120, help="seconds to wait for the engine to catch up"
    )
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as directory:
        server = make_server(Path(directory)).start()
        assert server.process is not None
        backlog = Backlog(Path(directory) / "makegood.db")
        try:
            server_cpu, client_cpu = cpu_seconds(server.process.pid), time.process_time()
            backlog.thread.start()
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
            result["server_cpu_s"] = round(cpu_seconds(server.process.pid) - server_cpu, 2)
            result["client_cpu_s"] = round(time.process_time() - client_cpu, 2)
            result["server_cpu_ms_per_request"] = round(
                result["server_cpu_s"] * 1000 / result["requests"], 2
            )
            loaded = backlog.samples[-1] if backlog.samples else (0.0, 0, 0)
            result["backlog_at_end"] = loaded[1] - loaded[2]
            result["backlog_peak"] = max((h - a for _, h, a in backlog.samples), default=0)
            drained = backlog.wait_drained(args.drain)
            acted = [(t, a) for t, _, a in backlog.samples]
            if drained is not None and len(acted) > 1:
                took = acted[-1][0] - acted[0][0]
                result["engine_events_per_s"] = round((acted[-1][1] - acted[0][1]) / took)
            result["drained_after_s"] = round(drained, 1) if drained is not None else "no"
        finally:
            backlog.stop.set()
            server.stop()
            tail = server.log.read_text(encoding="utf-8").splitlines()
            problems = [line for line in tail if "ERROR" in line or "Traceback" in line]
            if problems:
                print("\n".join(problems[:5]), file=sys.stderr)
    print(
        f"POST /v1/events, batches of {args.batch}, offered {args.rate:g} req/s for "
        f"{args.seconds:g} s on loopback (SQLite); load average before "
        f"{load_before[0]:.1f}, after {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs):"
    )
    for key, value in result.items():
        print(f"  {key:26} {value}")
    print(
        "  backlog (s, appended, acted on):", backlog.samples[:: max(len(backlog.samples) // 12, 1)]
    )


if __name__ == "__main__":
    main()
