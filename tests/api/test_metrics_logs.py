"""Structured JSON logs over a real `makegood serve --log-format json` (issue 14 point 4):
one JSON object per line; each request's line carries its id, method, path, status and
duration; the caller's X-Request-ID is echoed (a malformed one replaced) and reaches the case
timeline of the action it asked for; no e-mail address reaches the log."""

from __future__ import annotations

import io
import json
import logging
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from makegood.entrypoints.api.middleware import RedactingFilter
from makegood.entrypoints.api.tracing import REQUEST_ID, JsonFormatter

from .server import make_server
from .test_api import escalated_case

pytestmark = pytest.mark.slow
EMAIL = "ana.silva@example.com"


def test_json_logs_carry_the_request_id_to_the_timeline(tmp_path: Path) -> None:
    server = make_server(tmp_path)
    server.args = ("--log-format", "json")
    server.start()
    try:
        case_id = escalated_case(server, "c-json")
        with server.client("agent") as agent:
            noted = agent.post(
                f"/v1/cases/{case_id}/notes",
                json={"text": "called the customer"},
                headers={"X-Request-ID": "trace-7f3a.01"},
            )
            assert noted.status_code == 200, noted.text
            assert noted.headers["x-request-id"] == "trace-7f3a.01"
            odd = agent.get("/healthz", headers={"X-Request-ID": "no spaces allowed"})
            generated = odd.headers["x-request-id"]
            assert re.fullmatch(r"[0-9a-f]{32}", generated)
            assert agent.get(f"/v1/cases/{EMAIL}").status_code == 404
            timeline = agent.get(f"/v1/cases/{case_id}").json()["timeline"]
            with sqlite3.connect(tmp_path / "makegood.db") as db:
                db.execute("DROP TABLE timeline")  # an action on a case now fails: a traceback
            failed = agent.post(f"/v1/cases/{case_id}/notes", json={"text": f"mail {EMAIL}"})
            assert failed.status_code == 500
    finally:
        assert server.stop() == 0
    [note] = [e for e in timeline if e["kind"] == "note"]
    assert note["data"]["request_id"] == "trace-7f3a.01"

    text = server.log.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip()]
    records: list[dict[str, Any]] = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(records) >= 5
    assert not [line for line in lines if not line.startswith("{")][:-1]  # but "stopped"
    for record in records:
        assert {"time", "level", "logger", "message"} <= record.keys()
    [access] = [r for r in records if r.get("request_id") == "trace-7f3a.01"]
    assert access["logger"] == "makegood.http" and access["level"] == "INFO"
    assert access["method"] == "POST" and access["path"] == f"/v1/cases/{case_id}/notes"
    assert access["status"] == 200 and isinstance(access["duration_ms"], float)
    assert [r["status"] for r in records if r.get("request_id") == generated] == [200]
    assert EMAIL not in text  # the redaction filter applies to JSON logs too
    assert any(r.get("path") == "/v1/cases/[email]" and r["status"] == 404 for r in records)
    # the engine loop may log the missing table too, on its own: the request's error is its own
    failed_id = failed.headers["x-request-id"]
    [error] = [
        r
        for r in records
        if r["level"] == "ERROR" and "exception" in r and r.get("request_id") == failed_id
    ]
    assert "no such table: timeline" in error["exception"]  # the traceback, redacted


def test_the_redaction_filter_applies_to_json_lines() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("makegood.test.jsonlog")
    logger.addHandler(handler)
    token = REQUEST_ID.set("req-1")
    try:
        try:
            raise ValueError(f"row for {EMAIL}, +351 912 345 678")
        except ValueError:
            logger.exception("could not write %s", EMAIL)
    finally:
        REQUEST_ID.reset(token)
        logger.removeHandler(handler)
    [line] = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["message"] == "could not write [email]"
    assert record["request_id"] == "req-1" and record["level"] == "ERROR"
    assert "[email], [phone]" in record["exception"] and EMAIL not in line and "912" not in line
