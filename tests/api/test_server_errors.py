"""Server errors over a real `makegood serve` (issue 10 point 11, issue 11 point 5): a database
error answers 500, is counted in /metrics, and its traceback in the log names no e-mail address
or phone number; X-Forwarded-Proto is believed only from a proxy `serve` was told to trust."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from makegood.adapters.sql.database import create_engine
from makegood.entrypoints.api.middleware import RedactingFilter

from .server import Server, make_server
from .test_api import escalated_case

pytestmark = pytest.mark.slow
EMAIL, PHONE = "ana.silva@example.com", "+351 912 345 678"


def test_a_database_error_is_counted_and_its_log_names_nobody(tmp_path: Path) -> None:
    server = make_server(tmp_path).start()
    try:
        case_id = escalated_case(server, "c-broken")
        with sqlite3.connect(tmp_path / "makegood.db") as db:
            db.execute("DROP TABLE timeline")  # every action on a case now fails in the database
        with server.client("agent") as agent:
            answer = agent.post(
                f"/v1/cases/{case_id}/notes", json={"text": f"call {EMAIL} or {PHONE}"}
            )
            assert answer.status_code == 500
            metrics = agent.get("/metrics").text
    finally:
        server.stop()
    assert 'makegood_http_responses_total{status="500"} 1' in metrics
    log = server.log.read_text(encoding="utf-8")
    assert "no such table: timeline" in log  # the traceback is there ...
    assert EMAIL not in log and "912 345" not in log and "@example.com" not in log  # ... nobody


def test_the_redaction_filter_covers_tracebacks() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed for %s", (EMAIL,), None)
    try:
        raise ValueError(f"row ({EMAIL}, {PHONE})")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    RedactingFilter().filter(record)
    text = logging.Formatter().format(record)
    assert "ValueError" in text and EMAIL not in text and "912 345" not in text


def test_database_errors_do_not_quote_the_row(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as c:
        c.exec_driver_sql("CREATE TABLE people (email TEXT PRIMARY KEY)")
        c.execute(sa.text("INSERT INTO people VALUES (:e)"), {"e": EMAIL})
    with pytest.raises(sa.exc.IntegrityError) as error, engine.begin() as c:
        c.execute(sa.text("INSERT INTO people VALUES (:e)"), {"e": EMAIL})
    assert EMAIL not in str(error.value) and "hidden" in str(error.value)
    engine.dispose()


def session_cookie(server: Server) -> str:
    with httpx.Client(base_url=server.url, headers={"x-forwarded-proto": "https"}) as client:
        return client.get("/login").headers["set-cookie"].lower()


def test_forwarded_proto_is_believed_only_from_a_trusted_proxy(
    server: Server, tmp_path: Path
) -> None:
    assert "secure" not in session_cookie(server)
    trusting = make_server(tmp_path)
    trusting.args = ("--forwarded-allow-ips", "127.0.0.1")
    trusting.start()
    try:
        assert "secure" in session_cookie(trusting)
    finally:
        trusting.stop()
