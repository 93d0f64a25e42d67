"""SIGTERM stops `makegood serve` within seconds even while a batch is stuck mid-way
(issue 11, point 2): here the batch waits for SQLite's write lock, which the test holds. The
unfinished request is abandoned, its transaction never commits, and its events can be sent
again."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from .server import make_server, now_iso

pytestmark = pytest.mark.slow


def test_sigterm_mid_batch_stops_within_seconds(tmp_path: Path) -> None:
    server = make_server(tmp_path).start()
    assert server.process is not None
    event = {
        "id": "stuck-1",
        "type": "order.placed",
        "occurred_at": now_iso(),
        "customer_id": "c-1",
        "subject_id": "o-1",
    }
    answer: list[Any] = []

    def post() -> None:
        try:
            with server.client("ingest") as client:
                client.timeout = httpx.Timeout(120)
                answer.append(client.post("/v1/events", json=event).status_code)
        except httpx.HTTPError as error:
            answer.append(error)

    lock = sqlite3.connect(tmp_path / "makegood.db", isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # every writer of the server now waits (30 s at most)
    sender = threading.Thread(target=post)
    try:
        sender.start()
        time.sleep(1)  # the request reaches its write transaction (no timer is awaited here)
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(timeout=60)
        took = time.monotonic() - started
    finally:
        lock.execute("ROLLBACK")
        lock.close()
        sender.join(timeout=60)
    assert code == 0
    assert took < 10, f"serve took {took:.1f} s to stop"
    assert answer and answer[0] != 200  # cut off (uvicorn answers 500) or disconnected
    restarted = make_server(tmp_path, tmp_path / "makegood.db").start()
    try:
        with restarted.client("ingest") as client:
            again = client.post("/v1/events", json=event).json()
        assert again["accepted"] == 1  # nothing of the abandoned batch was committed
    finally:
        restarted.stop()
