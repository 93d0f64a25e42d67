"""Chaos campaign: random SIGKILLs of `makegood serve`, `ingest` and `dispatch`, then the checks.

    .venv/bin/python bench/chaos.py [--kills 30] [--database-url URL] [--seed 1]

A simulated day of a food-delivery business goes into one store two ways at once: half of the
customers through `makegood ingest` of JSONL files (event time), the other half posted to a
`makegood serve` over HTTP (wall time). E-mail goes to a real SMTP server (aiosmtpd) and
webhooks to a real HTTP receiver, both on 127.0.0.1 and nowhere else. Each round starts one of
the three processes and kills it with SIGKILL after a random delay; what was not finished is
run again later, as an operator would. Then everything is finished without kills, the outbox is
drained with a clock past every lease and retry, and the store and the peers are checked:

- every event of the stream is stored, once; nothing else is;
- no compensation is granted twice (the budget counter equals the granted rows, day by day);
- no budget is exceeded (per case, per customer over 30 days, global per day): overspend 0;
- every message is delivered: sent in the outbox and received by its peer; a message received
  more than once (same Idempotency-Key / Message-ID) is counted as a duplicate and reported,
  since delivery is at least once.

Bounded: `--kills` rounds, `--max-seconds` overall; SQLite in a temporary folder, or PostgreSQL
(`--database-url`) in a schema of its own that is dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

MAKEGOOD = Path(sys.executable).parent / "makegood"
KINDS = ("serve", "ingest", "dispatch")
API_BATCH = 50


# the peers -------------------------------------------------------------------------------------
@dataclass
class Received:
    """Idempotency keys as the peers saw them, in order (an e-mail carries its key too)."""

    keys: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, key: str) -> None:
        with self.lock:
            self.keys.append(key)


class Mailbox:
    """aiosmtpd handler: accepts every message and keeps its Idempotency-Key."""

    def __init__(self, received: Received) -> None:
        self.received = received

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = message_from_bytes(envelope.original_content or envelope.content)
        self.received.add(str(mail["Idempotency-Key"] or mail["Message-ID"]))
        return "250 OK"


def webhook_receiver(received: Received) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.add(str(self.headers.get("Idempotency-Key")))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# the stream ------------------------------------------------------------------------------------
def stream(customers: int, orders: int, seed: int) -> list[dict[str, Any]]:
    from makegood.entrypoints.demo.simulator import SimulationSettings, Simulator

    simulator = Simulator(SimulationSettings(seed=seed, customers=customers, orders=orders))
    return simulator.advance(simulator.horizon)


def split(events: list[dict[str, Any]], chunks: int) -> tuple[list[list[Any]], list[list[Any]]]:
    """Half of the customers go through files (in `chunks`), the others through the API."""
    by_file = [e for e in events if sum(map(ord, e["customer_id"])) % 2 == 0]
    by_api = [e for e in events if sum(map(ord, e["customer_id"])) % 2 == 1]
    size = max(1, -(-len(by_file) // chunks))
    files = [by_file[i : i + size] for i in range(0, len(by_file), size)]
    batches = [by_api[i : i + API_BATCH] for i in range(0, len(by_api), API_BATCH)]
    return files, batches


# the processes ---------------------------------------------------------------------------------
@dataclass
class Campaign:
    url: str
    schema: str | None
    env: dict[str, str]
    folder: Path
    rng: random.Random
    files: list[Path]
    batches: list[list[dict[str, Any]]]
    token: str = ""
    kills: Counter[str] = field(default_factory=Counter)
    finished: Counter[str] = field(default_factory=Counter)
    acknowledged: set[str] = field(default_factory=set)
    refused: Counter[int] = field(default_factory=Counter)  # answers that took no batch
    pace: float = 0.0  # seconds between two HTTP batches (0: as fast as answered)

    def start(self, *args: object) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [str(MAKEGOOD), *map(str, args)],
            cwd=self.folder,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def run(self, *args: object, timeout: float = 600) -> int:
        return self.start(*args).wait(timeout)

    def kill_after(self, process: subprocess.Popen[bytes], kind: str, delay: float) -> bool:
        """SIGKILL `process` after `delay` seconds if it still runs; True if it was killed."""
        try:
            process.wait(delay)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            self.kills[kind] += 1
            return True
        self.finished[kind] += 1
        return False

    def ingest(self, delay: float | None) -> None:
        path = self.files[0]
        process = self.start("ingest", path, "--db", self.url, "--batch-size", 200, "-q")
        if delay is None:
            assert process.wait(600) == 0, f"ingest {path.name} failed"
            self.files.pop(0)
        elif not self.kill_after(process, "ingest", delay) and process.returncode == 0:
            self.files.pop(0)

    def dispatch(self, delay: float | None) -> None:
        process = self.start("dispatch", "--db", self.url)
        if delay is None:
            process.wait(600)
        else:
            self.kill_after(process, "dispatch", delay)

    def serve(self, delay: float | None) -> None:
        """Start a server, post batches to it; kill it after `delay` (None: post them all and
        stop it with SIGTERM). A batch counts once the server answered it."""
        port = free_port()
        process = self.start("serve", "--db", self.url, "--port", port, "--log-level", "error")
        base = f"http://127.0.0.1:{port}"
        if not wait_until_up(base, process):
            process.kill()
            process.wait()
            return
        stop = threading.Event()
        poster = threading.Thread(target=self._post, args=(base, stop), daemon=True)
        poster.start()
        if delay is None:
            poster.join()
            process.send_signal(signal.SIGTERM)
            process.wait(60)
            self.finished["serve"] += 1
            return
        self.kill_after(process, "serve", delay)
        stop.set()
        poster.join(30)

    def _post(self, base: str, stop: threading.Event) -> None:
        while self.batches and not stop.is_set():
            batch = self.batches[0]
            try:
                answer = httpx.post(
                    f"{base}/v1/events",
                    json=batch,
                    headers={"Authorization": f"Bearer {self.token}"},
                    timeout=60,
                )
                body = answer.json()
            except (httpx.HTTPError, ValueError):
                return  # killed mid-request: the batch is sent again to the next server
            if answer.status_code not in (200, 422):  # 422: some refused, the others taken
                self.refused[answer.status_code] += 1
                return
            for result in body["results"]:
                if result["status"] in ("accepted", "duplicate"):
                    self.acknowledged.add(result["id"])
            self.batches.pop(0)
            stop.wait(self.pace)


def wait_until_up(base: str, process: subprocess.Popen[bytes], seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            time.sleep(0.1)
    return False


# the checks ------------------------------------------------------------------------------------
def drain(url: str, schema: str | None, env: dict[str, str]) -> int:
    """Send whatever the outbox still holds, with a clock past every lease and retry: what a
    killed dispatcher claimed waits for its lease to expire, and here no one waits."""
    from makegood.adapters.clock import SystemClock
    from makegood.bootstrap import bootstrap, channels_from_settings
    from makegood.config import Settings
    from makegood.testing import FrozenClock

    settings = Settings.from_env(env).with_database(url)
    channels = channels_from_settings(settings, env)
    sent = 0
    later = FrozenClock(SystemClock().now() + timedelta(hours=6))
    app = bootstrap(settings, clock=later, channels=channels, migrate=False)
    for _ in range(20):
        stats = app.dispatcher.dispatch_once(10_000)
        sent += stats.sent
        if stats.claimed == 0:
            break
        later.advance(timedelta(hours=6))  # past any retry's backoff
    return sent


def check(
    url: str, schema: str | None, events: list[dict[str, Any]], peers: Received
) -> dict[str, Any]:
    import sqlalchemy as sa

    from makegood.adapters.policy_file import load_policy
    from makegood.adapters.sql.database import create_engine

    budgets = load_policy().policy.budgets
    engine = create_engine(url, schema)
    with engine.connect() as c:
        stored = [r[0] for r in c.execute(sa.text("SELECT id FROM events"))]
        outbox = c.execute(sa.text("SELECT key, channel, status FROM outbox")).all()
        granted = c.execute(
            sa.text(
                "SELECT customer_id, case_id, amount, decided_at FROM compensations "
                "WHERE status = 'granted'"
            )
        ).all()
        spend = dict(c.execute(sa.text("SELECT day, spent_minor FROM budget_spend")).all())
        quarantined = c.execute(sa.text("SELECT count(*) FROM quarantine")).scalar_one()
    engine.dispose()
    sent_ids = {e["id"] for e in events}
    stored_set = set(stored)
    received = Counter(peers.keys)
    sent_rows = [key for key, channel, status in outbox if status == "sent"]
    per_case: Counter[str] = Counter()
    per_day: dict[Any, Any] = Counter()
    for _, case, amount, at in granted:
        per_case[case] += _money(amount)
        per_day[_day(at)] += _money(amount)
    per_customer = _rolling(granted, timedelta(days=30))
    over = (
        sum(max(0, v - budgets.per_case) for v in per_case.values())
        + sum(max(0, v - budgets.per_customer_30d) for v in per_customer.values())
        + sum(max(0, v - budgets.global_per_day) for v in per_day.values())
    )
    charged = {_day(d): _money(m) / 100 for d, m in spend.items()}
    return {
        "events": len(sent_ids),
        "stored": len(stored),
        "missing": len(sent_ids - stored_set),
        "unexpected": len(stored_set - sent_ids),
        "stored twice": len(stored) - len(stored_set),
        "quarantined": quarantined,
        "messages": len(outbox),
        "sent": len(sent_rows),
        "not sent": len(outbox) - len(sent_rows),
        "not received": sum(1 for key in sent_rows if key not in received),
        "duplicates": sum(n - 1 for n in received.values()),
        "duplicated messages": sum(1 for n in received.values() if n > 1),
        "granted": len(granted),
        "granted amount": sum(per_day.values()),
        "budget counter off by": sum(
            abs(charged.get(d, 0) - per_day.get(d, 0)) for d in set(charged) | set(per_day)
        ),
        "overspend": over,
    }


def _money(value: Any) -> Any:
    from decimal import Decimal

    return Decimal(str(value))


def _day(value: Any) -> Any:
    from datetime import date, datetime

    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return datetime.fromisoformat(str(value)).date()


def _rolling(granted: list[Any], window: timedelta) -> dict[tuple[str, Any], Any]:
    """Each customer's granted total over the window ending at each of their grants."""
    from datetime import datetime

    by_customer: dict[str, list[tuple[datetime, Any]]] = {}
    for customer, _, amount, at in granted:
        when = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
        by_customer.setdefault(customer, []).append((when, _money(amount)))
    totals = {}
    for customer, grants in by_customer.items():
        for when, _ in grants:
            totals[(customer, when)] = sum(a for w, a in grants if when - window < w <= when)
    return totals


# the campaign ----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=30, help="rounds, each ending in a SIGKILL")
    parser.add_argument("--database-url", help="PostgreSQL URL (default: a SQLite file)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--orders", type=int, default=2500)
    parser.add_argument("--chunks", type=int, default=12, help="files the ingested half is cut in")
    parser.add_argument("--max-delay", type=float, default=3.0, help="longest life before a kill")
    parser.add_argument("--max-seconds", type=float, default=900, help="stop killing after this")
    parser.add_argument(
        "--pace",
        type=float,
        default=0.0,
        help="seconds between HTTP batches, so that kills of serve land during ingestion "
        "(serve answers once a batch is appended: unpaced, one life posts them all)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    args = parser.parse_args(argv)
    figures = campaign(args)
    if args.json:
        print(json.dumps(figures, default=float))  # Decimal amounts
    else:
        for name, value in figures.items():
            print(f"{name:>22}: {value}")
    bad = ("missing", "unexpected", "stored twice", "not sent", "not received", "overspend")
    return 1 if any(figures[k] for k in bad) or figures["budget counter off by"] else 0


def campaign(args: argparse.Namespace) -> dict[str, Any]:
    from aiosmtpd.controller import Controller

    rng = random.Random(args.seed)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="makegood-chaos-") as tmp:
        folder = Path(tmp)
        url, schema = args.database_url or f"sqlite:///{folder / 'chaos.db'}", None
        if args.database_url:
            schema = f"chaos_{args.seed}_{os.getpid()}"
        events = stream(args.customers, args.orders, args.seed)
        file_parts, batches = split(events, args.chunks)
        files = []
        for i, part in enumerate(file_parts):
            path = folder / f"part{i:03}.jsonl"
            path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in part))
            files.append(path)
        received = Received()
        mail = Controller(Mailbox(received), hostname="127.0.0.1", port=free_port())
        mail.start()
        hooks = webhook_receiver(received)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAKEGOOD_")}
        env |= {
            "MAKEGOOD_DATABASE_URL": url,
            "MAKEGOOD_SMTP_HOST": "127.0.0.1",
            "MAKEGOOD_SMTP_PORT": str(mail.port),
            "MAKEGOOD_SMTP_SECURITY": "none",
            "MAKEGOOD_WEBHOOK_URL": f"http://127.0.0.1:{hooks.server_port}/hooks",
            "MAKEGOOD_WEBHOOK_SECRET": "whsec_chaos",
            "MAKEGOOD_OUTBOX_FILE": str(folder / "file-channel.jsonl"),
        }
        if schema:
            env["MAKEGOOD_DATABASE_SCHEMA"] = schema
            _schema(url, schema, create=True)
        run = Campaign(url, schema, env, folder, rng, files, batches, pace=args.pace)
        try:
            assert run.run("migrate", "--db", url) == 0, "migrate failed"
            run.token = _token(url, schema)
            rounds, cycle = 0, []
            while rounds < args.kills and time.monotonic() - started < args.max_seconds:
                cycle = cycle or rng.sample(KINDS, len(KINDS))  # each kind once per cycle
                kind = cycle.pop()
                if (kind == "ingest" and not run.files) or (kind == "serve" and not run.batches):
                    kind = "dispatch"
                delay = rng.uniform(0.2, args.max_delay)
                if kind == "serve":
                    delay += 0.5  # some time to take requests after it is up
                getattr(run, kind)(delay)
                rounds += 1
            while run.files:  # then everything is finished, without kills
                run.ingest(None)
            for _ in range(5):
                if run.batches:
                    run.serve(None)
            run.dispatch(None)
            leased = _leased(url, schema)
            drained = drain(url, schema, env)
            figures = check(url, schema, events, received)
        finally:
            mail.stop()
            hooks.shutdown()
            if schema:
                _schema(url, schema, create=False)
    return {
        "database": "postgresql" if args.database_url else "sqlite",
        "kills": sum(run.kills.values()),
        **{f"kills of {k}": run.kills[k] for k in KINDS},
        "finished before the kill": sum(run.finished.values()) - run.finished["serve"],
        "api events acknowledged": len(run.acknowledged),
        "api answers refused": dict(run.refused),
        **figures,
        "leased at the end": leased,
        "drained after": drained,
        "seconds": round(time.monotonic() - started),
    }


def _leased(url: str, schema: str | None) -> int:
    """Messages waiting for a killed dispatcher's claim (or a retry) to expire."""
    import sqlalchemy as sa

    from makegood.adapters.clock import SystemClock
    from makegood.adapters.sql import schema as t
    from makegood.adapters.sql.database import create_engine

    engine = create_engine(url, schema)
    with engine.connect() as c:
        query = sa.select(sa.func.count()).where(
            t.outbox.c.status == "pending", t.outbox.c.next_attempt_at > SystemClock().now()
        )
        count = int(c.execute(query).scalar_one())
    engine.dispose()
    return count


def _token(url: str, schema: str | None) -> str:
    from makegood.adapters.clock import SystemClock
    from makegood.adapters.sql.auth import create_token
    from makegood.adapters.sql.database import create_engine

    engine = create_engine(url, schema)
    try:
        _, token = create_token(engine, "ingest", "chaos", SystemClock().now())
    finally:
        engine.dispose()
    return token


def _schema(url: str, schema: str, *, create: bool) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as c:
        if create:
            c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        else:
            c.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
