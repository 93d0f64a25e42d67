"""Three dispatcher *processes* drain one PostgreSQL outbox at once: every message is delivered
exactly once (claims are ``FOR UPDATE SKIP LOCKED``; a claim's lease outlives the test).

Each process runs `WORKER` below: its own `SqlStore` and `Dispatcher`, the real template renderer,
and a channel that appends one line per delivery to a shared file opened with O_APPEND (a single
``write`` of a short line is atomic there), so the file is the record of what was delivered.
The processes start together: each says ``ready`` and waits for ``go`` on its stdin.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from makegood.adapters.sql import schema as t
from makegood.adapters.sql.store import SqlStore
from makegood.domain.message import SENT, OutboxMessage
from makegood.domain.policy import Budgets
from makegood.domain.world import Changes, Snapshot
from makegood.entrypoints.cli_policy import SAMPLE

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

URL_VARIABLE = "MAKEGOOD_TEST_DATABASE_URL"
MESSAGES = 300
WORKERS = 3

WORKER = """
import os, sys, time
from makegood.adapters.clock import SystemClock
from makegood.adapters.sql.store import SqlStore
from makegood.adapters.templates import DEFAULT_TEMPLATE_DIR, TemplateRenderer
from makegood.domain.message import Delivery
from makegood.service_layer.dispatch import Dispatcher

url, schema, out = sys.argv[1:4]


class AppendChannel:
    name = "email"

    def __init__(self, path):
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def send(self, message):
        time.sleep(0.002)  # a provider's latency keeps the claims of the processes interleaved
        os.write(self.fd, f"{os.getpid()} {message.message_id} {message.subject}\\n".encode())
        return Delivery(ok=True, detail="appended")


store = SqlStore(url, schema)
dispatcher = Dispatcher(store, TemplateRenderer([DEFAULT_TEMPLATE_DIR]),
                        {"email": AppendChannel(out)}, SystemClock())
print("ready", flush=True)
if sys.stdin.readline().strip() != "go":
    sys.exit(3)
idle = 0
while idle < 3:  # the outbox stays empty for three claims in a row: done
    idle = idle + 1 if dispatcher.dispatch_once(limit=7).claimed == 0 else 0
store.dispose()
"""


@pytest.fixture
def database() -> Iterator[tuple[str, str]]:
    """A PostgreSQL schema of this test's own, migrated; dropped afterwards."""
    url = os.environ.get(URL_VARIABLE)
    if not url:
        pytest.skip(f"set {URL_VARIABLE} to run the PostgreSQL dispatcher race")
    schema = f"mg_{secrets.token_hex(6)}"
    admin = sa.create_engine(url)
    try:
        with admin.begin() as c:
            c.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        try:
            store = SqlStore(url, schema)
            store.migrate()
            store.dispose()
            yield url, schema
        finally:
            with admin.begin() as c:
                c.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        admin.dispose()


def enqueue(url: str, schema: str, count: int) -> list[str]:
    created = datetime.now(UTC) - timedelta(minutes=1)
    messages = [
        OutboxMessage(
            f"msg-{n:04d}",
            f"race:{n}",
            "case-race",
            f"c-{n % 17}",
            "email",
            "acknowledge",
            "pt" if n % 2 else "en",
            f"c{n}@example.com",
            {**SAMPLE, "order": {**SAMPLE["order"], "id": f"o-{n}"}},
            created + timedelta(milliseconds=n),
        )
        for n in range(count)
    ]
    store = SqlStore(url, schema)
    try:
        with store.session() as session:
            session.save(Changes(outbox=messages), Snapshot(), Budgets())
    finally:
        store.dispose()
    return [m.id for m in messages]


def test_three_dispatcher_processes_deliver_every_message_exactly_once(
    database: tuple[str, str], tmp_path: Path
) -> None:
    url, schema = database
    ids = enqueue(url, schema, MESSAGES)
    script, out = tmp_path / "worker.py", tmp_path / "deliveries.log"
    script.write_text(WORKER, encoding="utf-8")
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), url, schema, str(out)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(WORKERS)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready"
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        for worker in workers:
            _, stderr = worker.communicate(timeout=120)
            assert worker.returncode == 0, stderr[-3000:]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
            worker.communicate()  # reaps it and closes its pipes

    lines = out.read_text(encoding="utf-8").splitlines()
    delivered = Counter(line.split(" ", 2)[1] for line in lines)
    assert [i for i, n in delivered.items() if n > 1] == []
    assert sorted(delivered) == ids
    by_process = Counter(line.split(" ", 1)[0] for line in lines)
    assert len(by_process) >= 2, f"no race happened: one process did it all: {by_process}"

    store = SqlStore(url, schema)
    try:
        with store.engine.connect() as c:
            states = Counter(c.execute(sa.select(t.outbox.c.status, t.outbox.c.attempts)))
            sends = c.scalar(
                sa.select(sa.func.count())
                .select_from(t.timeline)
                .where(t.timeline.c.kind == "message_sent")
            )
    finally:
        store.dispose()
    assert states == {(SENT, 1): MESSAGES}
    assert sends == MESSAGES
