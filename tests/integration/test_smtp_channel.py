"""SmtpChannel against a real aiosmtpd server on 127.0.0.1 (plain, STARTTLS, implicit TLS)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import logging
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from makegood.adapters.channels.smtp import SmtpChannel, SmtpSettings
from makegood.adapters.templates import DEFAULT_TEMPLATE_DIR, TemplateRenderer
from makegood.domain.message import DEAD, SENT, OutboxMessage, Rendered
from makegood.service_layer.dispatch import Dispatcher
from makegood.testing_outbox import InMemoryOutbox

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller", reason="aiosmtpd not installed")
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

pytestmark = pytest.mark.slow

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CONTEXT: dict[str, Any] = {
    "customer": {"name": "João", "locale": "pt_BR", "tier": "gold"},
    "case": {"id": "case-9", "category": "late_delivery", "severity": "major"},
    "failure": {
        "category": "late_delivery",
        "type": "process",
        "severity": "major",
        "lateness_minutes": 40,
        "evidence": {},
    },
    "order": {"id": "P-204", "value": "58.90", "currency": "BRL"},
    "compensation": {
        "kind": "voucher",
        "amount": "15.00",
        "currency": "BRL",
        "code": "MG-7KQ4-X9PW-2MDT",
        "expires_at": "2025-04-01T00:00:00+00:00",
    },
    "survey_url": None,
    "business": {"name": "Comida Já", "support_email": "ajuda@comida.test"},
}


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def now(self) -> datetime:
        return self.at


@dataclass
class Inbox:
    """The aiosmtpd handler: refuses ``refused-*`` recipients, answers 451 `busy` times."""

    busy: int = 0
    received: list[EmailMessage] = field(default_factory=list)
    tls_seen: list[bool] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("refused"):
            return f"550 5.1.1 <{address}>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.busy:
            self.busy -= 1
            return "451 4.3.0 Try again later"
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(parsed)
        self.tls_seen.append(session.ssl is not None)
        return "250 2.0.0 Accepted"


class EphemeralController(aiosmtpd_controller.Controller):  # type: ignore[misc]
    """A Controller on a port the kernel picked, bound before the server starts (no race)."""

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        super().__init__(handler, hostname="127.0.0.1", port=self._sock.getsockname()[1], **kwargs)

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)

    def stop(self, no_assert: bool = False) -> None:
        try:
            super().stop(no_assert)
        finally:
            self._sock.close()


@pytest.fixture
def serve() -> Iterator[Any]:
    started: list[EphemeralController] = []

    def start(handler: Inbox, **kwargs: Any) -> EphemeralController:
        controller = EphemeralController(handler, **kwargs)
        controller.start()
        started.append(controller)
        return controller

    yield start
    for controller in started:
        controller.stop()


def settings(port: int, **changes: Any) -> SmtpSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from_address": "Comida Já <cuidado@comida.test>",
        "reply_to": "ajuda@comida.test",
        "timeout": 5.0,
    }
    values.update(changes)
    return SmtpSettings(**values)


def apology(recipient: str = "joao@example.com", n: int = 1) -> OutboxMessage:
    return OutboxMessage(
        id=f"msg-{n}",
        key=f"case-9:apology:{n}",
        case_id="case-9",
        customer_id="c-9",
        channel="email",
        template="apology",
        locale="pt_BR",
        recipient=recipient,
        context=CONTEXT,
        created_at=T0,
    )


def rendered(recipient: str = "joao@example.com") -> Rendered:
    return TemplateRenderer([DEFAULT_TEMPLATE_DIR]).render(apology(recipient))


def test_a_portuguese_apology_arrives_as_multipart_text_and_html(serve: Any) -> None:
    inbox = Inbox()
    server = serve(inbox)
    delivery = SmtpChannel(settings(server.port)).send(rendered())
    assert delivery.ok, delivery.detail
    [mail] = inbox.received
    assert mail.get_content_type() == "multipart/alternative"
    assert mail["To"] == "joao@example.com"
    assert mail["From"] == "Comida Já <cuidado@comida.test>"
    assert mail["Reply-To"] == "ajuda@comida.test"
    assert mail["Subject"] == "Pedimos desculpas pelo pedido P-204"
    assert mail["Idempotency-Key"] == "case-9:apology:1"
    assert mail["X-Makegood-Message-Id"] == "msg-1"
    assert mail["Message-ID"].endswith("@comida.test>")
    text = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    body = text.get_content()
    assert "Olá, João" in body
    assert "cupom de R$ 15,00: MG-7KQ4-X9PW-2MDT (válido até 1 de abril de 2025)" in body
    assert "<strong>Aqui está um cupom de R$ 15,00: MG-7KQ4-X9PW-2MDT" in html.get_content()


def test_a_resend_carries_the_same_message_id(serve: Any) -> None:
    inbox = Inbox()
    channel = SmtpChannel(settings(serve(inbox).port))
    assert channel.send(rendered()).ok and channel.send(rendered()).ok
    assert inbox.received[0]["Message-ID"] == inbox.received[1]["Message-ID"]


def test_a_451_is_retried_by_the_dispatcher_and_arrives_exactly_once(serve: Any) -> None:
    inbox = Inbox(busy=1)
    server = serve(inbox)
    store = InMemoryOutbox()
    store.add(apology())
    clock = Clock()
    dispatcher = Dispatcher(
        store,
        TemplateRenderer([DEFAULT_TEMPLATE_DIR]),
        {"email": SmtpChannel(settings(server.port))},
        clock,
    )
    first = dispatcher.dispatch_once()
    assert (first.retried, first.sent) == (1, 0)
    waiting = store.get("msg-1")
    assert waiting.last_error is not None and waiting.last_error.startswith("smtp 451")
    assert inbox.received == []
    clock.at += timedelta(minutes=2)
    assert dispatcher.dispatch_once().sent == 1
    clock.at += timedelta(hours=2)
    assert dispatcher.dispatch_once().claimed == 0
    assert len(inbox.received) == 1
    done = store.get("msg-1")
    assert (done.status, done.attempts) == (SENT, 2)


def test_a_refused_recipient_is_permanent_and_no_address_is_logged(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = serve(Inbox())
    store = InMemoryOutbox()
    store.add(apology("refused-maria@example.com"))
    dispatcher = Dispatcher(
        store,
        TemplateRenderer([DEFAULT_TEMPLATE_DIR]),
        {"email": SmtpChannel(settings(server.port))},
        Clock(),
    )
    assert dispatcher.dispatch_once().dead == 1
    dead = store.get("msg-1")
    assert dead.status == DEAD
    assert (
        dead.last_error
        == "smtp 550 recipient refused: 5.1.1 <<address>>: Recipient address rejected"
    )
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("makegood")]
    assert ours, "the channel and the dispatcher log the outcome"
    assert not [line for line in ours if "maria" in line or "@" in line]


def test_a_closed_port_is_a_temporary_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    delivery = SmtpChannel(settings(port, timeout=2.0)).send(rendered())
    assert not delivery.ok and not delivery.permanent
    assert "ConnectionRefusedError" in delivery.detail


def test_a_message_without_recipient_is_permanent() -> None:
    delivery = SmtpChannel(settings(25)).send(rendered(recipient=""))
    assert not delivery.ok and delivery.permanent


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    x509 = pytest.importorskip(
        "cryptography.x509", reason="needs the cryptography package to make a test certificate"
    )
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "makegood test SMTP")])
    now = dt.datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def check_login(server, session, envelope, mechanism, auth_data) -> AuthResult:  # type: ignore[no-untyped-def]
    ok = isinstance(auth_data, LoginPassword) and auth_data == (b"mailer", b"s3cret pass")
    return AuthResult(success=ok, handled=False)  # handled=True would mean no reply


def test_starttls_with_login(serve: Any, certificate: tuple[Path, Path]) -> None:
    inbox = Inbox()
    server = serve(
        inbox,
        tls_context=server_context(certificate),
        require_starttls=True,
        authenticator=check_login,
        auth_required=True,
    )
    good = settings(
        server.port,
        security="starttls",
        username="mailer",
        password="s3cret pass",
        ca_file=str(certificate[0]),
    )
    assert SmtpChannel(good).send(rendered()).ok
    assert inbox.tls_seen == [True]
    wrong = SmtpChannel(replace(good, password="wrong")).send(rendered())
    assert not wrong.ok and not wrong.permanent  # fixing the settings lets it through
    assert wrong.status_code == 535 and "authentication failed" in wrong.detail
    assert len(inbox.received) == 1


def test_implicit_tls(serve: Any, certificate: tuple[Path, Path]) -> None:
    inbox = Inbox()
    server = serve(inbox, ssl_context=server_context(certificate))
    channel = SmtpChannel(settings(server.port, security="tls", ca_file=str(certificate[0])))
    assert channel.send(rendered()).ok
    assert len(inbox.received) == 1


def test_an_untrusted_certificate_is_a_temporary_failure(
    serve: Any, certificate: tuple[Path, Path]
) -> None:
    server = serve(Inbox(), tls_context=server_context(certificate), require_starttls=True)
    delivery = SmtpChannel(settings(server.port, security="starttls")).send(rendered())
    assert not delivery.ok and not delivery.permanent
    assert "SSLCertVerificationError" in delivery.detail


def test_settings_from_the_environment() -> None:
    parsed = SmtpSettings.from_env(
        {
            "MAKEGOOD_SMTP_HOST": "smtp.example.net",
            "MAKEGOOD_SMTP_SECURITY": "TLS",
            "MAKEGOOD_SMTP_USERNAME": "mailer",
            "MAKEGOOD_SMTP_PASSWORD": "pw",
            "MAKEGOOD_SMTP_FROM": "Shop <care@shop.test>",
            "MAKEGOOD_SMTP_REPLY_TO": "help@shop.test",
            "MAKEGOOD_SMTP_TIMEOUT": "2.5",
        }
    )
    assert (parsed.host, parsed.effective_port, parsed.security) == ("smtp.example.net", 465, "tls")
    assert (parsed.username, parsed.password, parsed.timeout) == ("mailer", "pw", 2.5)
    assert SmtpSettings.from_env({}).effective_port == 587
    assert SmtpSettings.from_env({"MAKEGOOD_SMTP_PORT": "2525"}).port == 2525
    with pytest.raises(ValueError, match="MAKEGOOD_SMTP_PORT"):
        SmtpSettings.from_env({"MAKEGOOD_SMTP_PORT": "many"})
    with pytest.raises(ValueError, match="SECURITY"):
        SmtpSettings.from_env({"MAKEGOOD_SMTP_SECURITY": "ssl3"})
    with pytest.raises(ValueError, match="username"):
        SmtpSettings.from_env({"MAKEGOOD_SMTP_USERNAME": "only-me"})
