"""Issue 4 end to end: the real composition root (`bootstrap`, channels picked from MAKEGOOD_*
settings), the engine on a SQLite file, the dispatcher, a real aiosmtpd server and a real
ThreadingHTTPServer on loopback.

- a `pt` customer's late delivery: the apology arrives by SMTP in Portuguese, carrying the voucher
  code the compensations table holds;
- an item issue's `refund_item` webhook meets a peer that answers 503 twice, then 200: one
  successful delivery, and the case timeline shows two retries, then the send;
- a peer answering 400: one try, dead-lettered with the answer, on the timeline and in
  `makegood outbox --status dead`.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from helpers import T0, ev, minutes
from makegood.adapters.channels.smtp import SmtpChannel
from makegood.adapters.channels.webhook import WebhookChannel, verify_signature
from makegood.adapters.sql import queries
from makegood.adapters.sql import schema as t
from makegood.bootstrap import App, bootstrap
from makegood.config import Settings
from makegood.domain.message import DEAD, SENT
from makegood.entrypoints import cli_outbox
from makegood.testing import FrozenClock

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller", reason="aiosmtpd not installed")

pytestmark = pytest.mark.slow

SECRET = "whsec_end_to_end"
PROMISED = T0 + minutes(30)


# the peers -------------------------------------------------------------------------------------
@dataclass
class Mailbox:
    """The aiosmtpd handler: keeps every message it accepts."""

    received: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(parsed)
        return "250 2.0.0 Accepted"


class SmtpServer(aiosmtpd_controller.Controller):  # type: ignore[misc]
    """A Controller on a port the kernel picked, bound before the server starts (no race)."""

    def __init__(self, handler: Any) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        super().__init__(handler, hostname="127.0.0.1", port=self._sock.getsockname()[1])

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._sock)

    def stop(self, no_assert: bool = False) -> None:
        try:
            super().stop(no_assert)
        finally:
            self._sock.close()


@dataclass
class Peer:
    """A business endpoint: refuses order ``o-refused`` with 400; answers 503 to the first
    `busy` calls of any other message (by idempotency key), then 200."""

    busy: int = 2
    calls: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)  # key, status
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        if not verify_signature(SECRET, headers.get("Makegood-Signature", ""), body):
            return 401, '{"error": "bad signature"}'
        key = headers["Idempotency-Key"]
        payload = json.loads(body)
        with self.lock:
            tries = sum(1 for k, _, _ in self.calls if k == key)
            if payload["order"]["id"] == "o-refused":
                status, text = 400, '{"error": "unknown order o-refused"}'
            elif tries < self.busy:
                status, text = 503, "busy"
            else:
                status, text = 200, '{"ok": true}'
            self.calls.append((key, status, payload))
        return status, text

    def successes(self) -> Counter[str]:
        return Counter(k for k, status, _ in self.calls if 200 <= status < 300)


def handler_for(peer: Peer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status, answer = peer.answer(dict(self.headers.items()), body)
            data = answer.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    server = SmtpServer(box)
    server.start()
    try:
        yield box, server.port
    finally:
        server.stop()


@pytest.fixture
def peer() -> Iterator[tuple[Peer, str]]:
    endpoint = Peer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(endpoint))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield endpoint, f"http://127.0.0.1:{server.server_address[1]}/hooks/makegood"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def app(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mailbox: tuple[Mailbox, int],
    peer: tuple[Peer, str],
) -> Iterator[App]:
    """`bootstrap` as an installation runs it: SMTP from MAKEGOOD_SMTP_*, webhooks from the
    settings, a frozen clock instead of the wall."""
    for name in [k for k in os.environ if k.startswith("MAKEGOOD_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("MAKEGOOD_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("MAKEGOOD_SMTP_PORT", str(mailbox[1]))
    monkeypatch.setenv("MAKEGOOD_SMTP_SECURITY", "none")
    monkeypatch.setenv("MAKEGOOD_SMTP_FROM", "Fresh Bites <care@freshbites.example.com>")
    monkeypatch.setenv("MAKEGOOD_SMTP_TIMEOUT", "5")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'makegood.db'}",
        webhook_url=peer[1],
        webhook_secret=SECRET,
    )
    built = bootstrap(settings, clock=FrozenClock(T0))
    try:
        yield built
    finally:
        webhook = built.dispatcher.channels["webhook"]
        if isinstance(webhook, WebhookChannel):
            webhook.close()
        built.store.dispose()


# the scenario ----------------------------------------------------------------------------------
def late_delivery_in_portuguese(app: App) -> None:
    clock = app.clock
    assert isinstance(clock, FrozenClock)
    app.engine.ingest(
        [
            ev(
                "pt-0",
                "customer.upserted",
                T0,
                "c-pt",
                name="João",
                email="joao@example.com",
                locale="pt",
                tier="bronze",
            ),
            ev("pt-1", "order.placed", T0, "c-pt", "o-pt", promised_at=PROMISED, value="24.50"),
        ]
    )
    clock.set(PROMISED + minutes(15))
    app.engine.tick()
    clock.set(PROMISED + minutes(35))
    app.engine.ingest([ev("pt-2", "order.delivered", clock.now(), "c-pt", "o-pt")])


def item_issues(app: App) -> None:
    now = app.clock.now()
    app.engine.ingest(
        [
            ev("it-0", "customer.upserted", now, "c-it", name="Ana", email="ana@example.com"),
            ev("it-1", "order.placed", now, "c-it", "o-busy", value="18.00"),
            ev(
                "it-2",
                "order.item_issue",
                now,
                "c-it",
                "o-busy",
                issue="missing",
                item_value="6.00",
            ),
            ev("re-0", "customer.upserted", now, "c-re", name="Rui", email="rui@example.com"),
            ev("re-1", "order.placed", now, "c-re", "o-refused", value="12.00"),
            ev(
                "re-2",
                "order.item_issue",
                now,
                "c-re",
                "o-refused",
                issue="damaged",
                item_value="7.00",
            ),
        ]
    )


def drain(app: App, rounds: int = 6) -> None:
    """Dispatch, then let an hour pass (longer than any backoff), `rounds` times."""
    clock = app.clock
    assert isinstance(clock, FrozenClock)
    for _ in range(rounds):
        app.dispatcher.dispatch_once()
        clock.advance(timedelta(hours=1))


def case_of(app: App, customer_id: str) -> dict[str, Any]:
    with app.store.engine.connect() as c:
        [case_id] = c.scalars(sa.select(t.cases.c.id).where(t.cases.c.customer_id == customer_id))
        return queries.case_detail(c, case_id)


def test_channels_come_from_the_settings(app: App) -> None:
    assert isinstance(app.dispatcher.channels["email"], SmtpChannel)
    assert isinstance(app.dispatcher.channels["webhook"], WebhookChannel)
    # `resolve` steps' calls, where they have a channel name of their own, go the same way
    webhook = app.dispatcher.channels["webhook"]
    assert app.dispatcher.channels.get("action", webhook) is webhook


def test_a_portuguese_customer_gets_the_apology_with_the_voucher_by_smtp(
    app: App, mailbox: tuple[Mailbox, int]
) -> None:
    late_delivery_in_portuguese(app)
    drain(app)
    with app.store.engine.connect() as c:
        [(code, amount)] = c.execute(
            sa.select(t.compensations.c.code, t.compensations.c.amount).where(
                t.compensations.c.customer_id == "c-pt"
            )
        ).all()
    assert code and code.startswith("MG-")
    box = mailbox[0]
    by_subject = {mail["Subject"]: mail for mail in box.received}
    apology = by_subject["Pedimos desculpas pelo pedido o-pt"]
    assert len(box.received) == 2  # the acknowledgement on detection, the apology on arrival
    assert apology["To"] == "joao@example.com"
    assert apology["From"] == "Fresh Bites <care@freshbites.example.com>"
    text = apology.get_body(preferencelist=("plain",))
    assert text is not None
    body = text.get_content()
    assert "Olá, João" in body
    assert f"Aqui está um cupom de {amount:.2f} €: {code}".replace(".", ",") in body
    assert "cerca de 35 minutos" in body
    assert all(m.status == SENT for m in outbox_rows(app, "c-pt"))


def test_a_webhook_after_two_503s_is_delivered_once_and_the_timeline_shows_the_tries(
    app: App, peer: tuple[Peer, str]
) -> None:
    item_issues(app)
    drain(app)
    endpoint = peer[0]
    busy = [(k, status) for k, status, body in endpoint.calls if body["order"]["id"] == "o-busy"]
    assert [status for _, status in busy] == [503, 503, 200]
    assert len({k for k, _ in busy}) == 1
    assert endpoint.successes() == Counter({busy[0][0]: 1})
    [payload] = [b for _, s, b in endpoint.calls if s == 200]
    assert payload["action"] == "refund_item"
    assert payload["case"]["category"] == "missing_item"

    detail = case_of(app, "c-it")
    deliveries = [
        (e["kind"], e["data"].get("attempt"))
        for e in detail["timeline"]
        if e["kind"].startswith("message_") and e["data"].get("template") == "refund_item"
    ]
    assert deliveries == [("message_retry", 1), ("message_retry", 2), ("message_sent", 3)]
    [webhook] = [m for m in detail["messages"] if m["template"] == "refund_item"]
    assert (webhook["status"], webhook["attempts"]) == (SENT, 3)


def test_a_400_is_dead_lettered_at_once_with_the_reason(
    app: App, peer: tuple[Peer, str], tmp_path: Path
) -> None:
    item_issues(app)
    drain(app)
    refused = [s for _, s, body in peer[0].calls if body["order"]["id"] == "o-refused"]
    assert refused == [400]

    reason = 'HTTP 400: {"error": "unknown order o-refused"}'
    detail = case_of(app, "c-re")
    [dead] = [e for e in detail["timeline"] if e["kind"] == "message_dead"]
    assert dead["data"]["error"] == reason
    assert dead["data"]["template"] == "refund_item"
    assert not [e for e in detail["timeline"] if e["kind"] == "message_retry"]
    [webhook] = [m for m in detail["messages"] if m["template"] == "refund_item"]
    assert (webhook["status"], webhook["attempts"]) == (DEAD, 1)

    cli = typer.Typer()
    cli.command()(cli_outbox.outbox)
    result = CliRunner().invoke(
        cli, ["--status", "dead", "--json", "--db", app.settings.database_url]
    )
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert (row["id"], row["status"], row["attempts"]) == (webhook["id"], DEAD, 1)
    assert (row["template"], row["channel"], row["last_error"]) == (
        "refund_item",
        webhook["channel"],
        reason,
    )
    assert "recipient" not in row
    table = CliRunner().invoke(cli, ["--status", "dead", "--db", app.settings.database_url])
    assert table.exit_code == 0, table.output
    assert f"{webhook['id']}  dead" in table.stdout
    assert f"\n    {reason}\n" in table.stdout
    everything = CliRunner().invoke(cli, ["--json", "--db", app.settings.database_url])
    assert "@example.com" not in everything.stdout  # addresses never leave the store this way


def outbox_rows(app: App, customer_id: str) -> list[Any]:
    with app.store.engine.connect() as c:
        return list(c.execute(sa.select(t.outbox).where(t.outbox.c.customer_id == customer_id)))
