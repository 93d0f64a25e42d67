"""SIGTERM stops `makegood serve` cleanly: the engine finishes its batch, the exit code is 0."""

from __future__ import annotations

from pathlib import Path

import pytest

from .server import make_server, now_iso

pytestmark = pytest.mark.slow


def test_sigterm_stops_cleanly_without_losing_work(tmp_path: Path) -> None:
    server = make_server(tmp_path).start()
    events = [
        {"id": f"t-{n}", "type": "purchase", "occurred_at": now_iso(), "customer_id": f"c-{n % 7}"}
        for n in range(300)
    ]
    with server.client("ingest") as client:
        assert client.post("/v1/events", json=events).json()["accepted"] == 300
    assert server.stop() == 0
    log = server.log.read_text(encoding="utf-8")
    assert "engine and dispatcher stopped" in log and "Traceback" not in log
    restarted = make_server(tmp_path, tmp_path / "makegood.db").start()
    try:
        with restarted.client("ingest") as client:
            again = client.post("/v1/events", json=events).json()
        assert again["duplicates"] == 300
    finally:
        restarted.stop()
