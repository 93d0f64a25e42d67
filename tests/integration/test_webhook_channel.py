"""WebhookChannel against a real ThreadingHTTPServer on 127.0.0.1 that checks signatures."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event

from makegood import __version__
from makegood.adapters.channels.webhook import WebhookChannel, verify_signature
from makegood.adapters.templates import DEFAULT_TEMPLATE_DIR, TemplateRenderer
from makegood.domain.message import DEAD, SENT, OutboxMessage, Rendered
from makegood.service_layer.dispatch import Dispatcher
from makegood.testing_outbox import InMemoryOutbox

pytestmark = pytest.mark.slow

SECRET = b"whsec_0123456789"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Request:
    headers: dict[str, str]
    body: bytes
    verified: bool


@dataclass
class Receiver:
    """What the endpoint saw; answers from `script` ((status, body) pairs), then 200."""

    script: list[tuple[int, str]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        verified = verify_signature(SECRET, headers.get("Makegood-Signature", ""), body)
        with self.lock:
            self.requests.append(Request(headers, body, verified))
            if not verified:
                return 401, '{"error": "bad signature"}'
            return self.script.pop(0) if self.script else (200, '{"ok": true}')

    @property
    def delivered(self) -> list[Request]:
        return [r for r in self.requests if r.verified]


def handler_for(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status, answer = receiver.handle(dict(self.headers.items()), body)
            data = answer.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output quiet

    return Handler


@pytest.fixture
def endpoint() -> Iterator[tuple[str, Receiver]]:
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(receiver))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/makegood", receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def now(self) -> datetime:
        return self.at


def reship(url: str | None, n: int = 1) -> OutboxMessage:
    return OutboxMessage(
        id=f"wh-{n}",
        key=f"case-3:reship:{n}",
        case_id="case-3",
        customer_id="c-3",
        channel="webhook",
        template="reship",
        locale="en",
        recipient=url,
        context={"case": {"id": "case-3"}, "order": {"id": "A-77", "value": "19.90"}},
        created_at=T0,
    )


def dispatcher_for(store: InMemoryOutbox, channel: WebhookChannel, clock: Clock) -> Dispatcher:
    return Dispatcher(store, TemplateRenderer([DEFAULT_TEMPLATE_DIR]), {"webhook": channel}, clock)


def test_two_503s_then_success_deliver_exactly_once(endpoint: tuple[str, Receiver]) -> None:
    url, receiver = endpoint
    receiver.script = [(503, "busy"), (503, "busy")]
    store, clock = InMemoryOutbox(), Clock()
    store.add(reship(url))
    with WebhookChannel(SECRET, timeout=5.0) as channel:
        dispatcher = dispatcher_for(store, channel, clock)
        assert dispatcher.dispatch_once().retried == 1
        assert store.get("wh-1").last_error == "HTTP 503: busy"
        for _ in range(4):
            clock.at += timedelta(hours=1)
            dispatcher.dispatch_once()
    done = store.get("wh-1")
    assert (done.status, done.attempts) == (SENT, 3)
    assert [a.ok for a in store.history] == [False, False, True]
    assert store.history[-1].detail == 'HTTP 200: {"ok": true}'
    assert len(receiver.requests) == 3 and all(r.verified for r in receiver.requests)
    assert {r.headers["Idempotency-Key"] for r in receiver.requests} == {"case-3:reship:1"}
    first = receiver.requests[0]
    assert first.headers["Content-Type"] == "application/json"
    assert first.headers["User-Agent"] == f"makegood/{__version__}"
    assert json.loads(first.body) == {
        "action": "reship",
        "case": {"id": "case-3"},
        "order": {"id": "A-77", "value": "19.90"},
    }


def test_a_400_is_dead_lettered_at_once_with_the_reason(endpoint: tuple[str, Receiver]) -> None:
    url, receiver = endpoint
    receiver.script = [(400, '{"error": "unknown order A-77"}')]
    store, clock = InMemoryOutbox(), Clock()
    store.add(reship(url))
    with WebhookChannel(SECRET, timeout=5.0) as channel:
        dispatcher = dispatcher_for(store, channel, clock)
        assert dispatcher.dispatch_once().dead == 1
        clock.at += timedelta(days=1)
        assert dispatcher.dispatch_once().claimed == 0
    dead = store.get("wh-1")
    assert (dead.status, dead.attempts) == (DEAD, 1)
    assert dead.last_error == 'HTTP 400: {"error": "unknown order A-77"}'
    assert len(receiver.requests) == 1


def test_a_tampered_body_or_a_wrong_secret_fails_verification(
    endpoint: tuple[str, Receiver],
) -> None:
    url, receiver = endpoint
    with WebhookChannel(b"not-the-shared-secret", default_url=url) as impostor:
        refused = impostor.send(rendered("wh-x"))
    assert (refused.ok, refused.permanent, refused.status_code) == (False, True, 401)
    with WebhookChannel(SECRET, default_url=url) as channel:
        assert channel.send(rendered("wh-y")).ok
    genuine = receiver.requests[-1]
    header = genuine.headers["Makegood-Signature"]
    assert verify_signature(SECRET, header, genuine.body)
    tampered = genuine.body.replace(b"19.90", b"99.90")
    assert tampered != genuine.body
    assert not verify_signature(SECRET, header, tampered)
    assert not receiver.requests[0].verified


def rendered(message_id: str, url: str | None = None) -> Rendered:
    return Rendered(
        message_id=message_id,
        idempotency_key=f"key-{message_id}",
        channel="webhook",
        recipient=url,
        subject="reship",
        text="",
        payload={"action": "reship", "order": {"id": "A-77", "value": "19.90"}},
    )


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(408, False), (429, False), (500, False), (502, False), (404, True), (422, True), (301, True)],
)
def test_status_codes_map_to_temporary_or_permanent(
    endpoint: tuple[str, Receiver], status: int, permanent: bool
) -> None:
    url, receiver = endpoint
    receiver.script = [(status, "x" * 5000)]
    with WebhookChannel(SECRET, default_url=url) as channel:
        delivery = channel.send(rendered("wh-s"))
    assert (delivery.ok, delivery.permanent, delivery.status_code) == (False, permanent, status)
    assert delivery.detail.startswith(f"HTTP {status}: xxx")
    assert len(delivery.detail) < 300


def test_a_timeout_and_a_refused_connection_are_temporary() -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        with WebhookChannel(SECRET, default_url=url, timeout=0.2) as channel:
            timed_out = channel.send(rendered("wh-t"))
    assert (timed_out.ok, timed_out.permanent) == (False, False)
    assert timed_out.detail.startswith("timeout")
    with WebhookChannel(SECRET, default_url=url, timeout=1.0) as channel:
        refused = channel.send(rendered("wh-r"))  # the port is closed now
    assert (refused.ok, refused.permanent) == (False, False)
    assert refused.detail.startswith("ConnectError")


def test_without_a_url_nothing_is_sent() -> None:
    with WebhookChannel(SECRET) as channel:
        delivery = channel.send(rendered("wh-n"))
    assert (delivery.ok, delivery.permanent) == (False, True)
    with WebhookChannel(SECRET, default_url="ftp://example.test/") as channel:
        assert channel.send(rendered("wh-f")).permanent


def test_the_cloudevents_format_is_a_signed_structured_event(
    endpoint: tuple[str, Receiver],
) -> None:
    url, receiver = endpoint
    store, clock = InMemoryOutbox(), Clock()
    store.add(reship(url))
    with WebhookChannel(SECRET, timeout=5.0, body_format="cloudevents") as ch:
        assert dispatcher_for(store, ch, clock).dispatch_once().sent == 1
    (request,) = receiver.requests
    assert request.verified
    assert request.headers["Content-Type"].startswith("application/cloudevents+json")
    event = from_http_event(HTTPMessage({"content-type": "application/cloudevents+json"},
                                        request.body))  # fmt: skip
    assert event.get_id() == "wh-1"
    assert event.get_source() == "makegood"
    assert event.get_type() == "makegood.action.reship"
    assert event.get_subject() == "case-3"
    sent_at = event.get_time()
    assert isinstance(sent_at, datetime)
    assert abs(datetime.now(UTC) - sent_at) < timedelta(minutes=1)
    assert event.get_data() == {
        "action": "reship",
        "case": {"id": "case-3"},
        "order": {"id": "A-77", "value": "19.90"},
    }


def test_an_unknown_webhook_format_is_refused() -> None:
    with pytest.raises(ValueError, match="json, cloudevents"):
        WebhookChannel(SECRET, body_format="xml")
