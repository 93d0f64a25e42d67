"""E-mail over SMTP: multipart text + HTML, one connection per message.

Failures map to `Delivery`: 4xx replies, refused connections, timeouts and TLS trouble are
temporary; a 5xx refusal of the recipient or of the message is permanent. Authentication and
sender refusals are configuration problems, so they stay temporary: fixing the settings lets
the waiting messages through instead of dead-lettering them. Server replies often quote the
address; they are redacted before they reach `Delivery.detail` or a log line.
"""

from __future__ import annotations

import hashlib
import logging
import re
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Literal

from makegood.domain.message import Delivery, Rendered

log = logging.getLogger(__name__)

Security = Literal["starttls", "tls", "none"]
_DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "tls": 465, "none": 25}
_ADDRESS = re.compile(r"[^\s<>\"'(),;:]+@[^\s<>\"'(),;:]+")


def redact(text: str) -> str:
    """Replace anything that looks like an e-mail address with ``<address>``."""
    return _ADDRESS.sub("<address>", text)


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str = "localhost"
    port: int | None = None  # None: 587 for starttls, 465 for tls, 25 for none
    security: Security = "starttls"
    username: str | None = None
    password: str | None = None
    from_address: str = "makegood@localhost"  # may carry a name: "Acme Support <care@acme.io>"
    reply_to: str | None = None
    timeout: float = 10.0
    ca_file: str | None = None  # trust this CA bundle instead of the system's (private relays)

    def __post_init__(self) -> None:
        if self.security not in _DEFAULT_PORTS:
            raise ValueError(f"SMTP security must be starttls, tls or none, not {self.security!r}")
        if (self.username is None) != (self.password is None):
            raise ValueError("give both an SMTP username and a password, or neither")
        if "@" not in parseaddr(self.from_address)[1]:
            raise ValueError("the SMTP from address is not an e-mail address")
        if self.timeout <= 0:
            raise ValueError("the SMTP timeout must be positive")

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else _DEFAULT_PORTS[self.security]

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SmtpSettings:
        """Read ``MAKEGOOD_SMTP_{HOST,PORT,SECURITY,USERNAME,PASSWORD,FROM,REPLY_TO,TIMEOUT,
        CA_FILE}``; unset or empty variables keep the defaults. Raises ValueError."""

        def get(name: str) -> str | None:
            value = environ.get(f"MAKEGOOD_SMTP_{name}", "").strip()
            return value or None

        def number(name: str, kind: type[int] | type[float]) -> int | float | None:
            raw = get(name)
            if raw is None:
                return None
            try:
                return kind(raw)
            except ValueError:
                raise ValueError(f"MAKEGOOD_SMTP_{name} is not a number: {raw!r}") from None

        port = number("PORT", int)
        timeout = number("TIMEOUT", float)
        security = (get("SECURITY") or "starttls").lower()
        if security not in _DEFAULT_PORTS:
            raise ValueError(f"MAKEGOOD_SMTP_SECURITY must be starttls, tls or none: {security!r}")
        return cls(
            host=get("HOST") or "localhost",
            port=int(port) if port is not None else None,
            security=security,  # type: ignore[arg-type]
            username=get("USERNAME"),
            password=environ.get("MAKEGOOD_SMTP_PASSWORD") or None,  # spaces may be meaningful
            from_address=get("FROM") or "makegood@localhost",
            reply_to=get("REPLY_TO"),
            timeout=float(timeout) if timeout is not None else 10.0,
            ca_file=get("CA_FILE"),
        )


class SmtpChannel:
    """Implements `Channel` for e-mail. Thread-safe: nothing is shared between sends."""

    name = "email"

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._domain = parseaddr(settings.from_address)[1].rpartition("@")[2]

    def build(self, message: Rendered) -> EmailMessage:
        """The e-mail for `message`. The Message-ID derives from the idempotency key, so a resent
        copy carries the same one and mail systems that deduplicate on it drop the copy."""
        if not message.recipient:
            raise ValueError("an e-mail needs a recipient")
        mail = EmailMessage()
        mail["From"] = self.settings.from_address
        mail["To"] = message.recipient
        if self.settings.reply_to:
            mail["Reply-To"] = self.settings.reply_to
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        digest = hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:32]
        mail["Message-ID"] = f"<{digest}.makegood@{self._domain}>"
        mail["Idempotency-Key"] = message.idempotency_key
        mail["X-Makegood-Message-Id"] = message.message_id
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: auto-responders stay quiet
        mail.set_content(message.text)
        if message.html is not None:
            mail.add_alternative(message.html, subtype="html")
        return mail

    def send(self, message: Rendered) -> Delivery:
        try:
            mail = self.build(message)
        except (ValueError, TypeError) as exc:
            # A missing or malformed address, a subject with a line break: no retry will help.
            return Delivery(ok=False, permanent=True, detail=redact(f"bad message: {exc}"))
        try:
            self._transmit(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()), (0, b""))
            return self._refused("recipient refused", code, reply, permanent=code >= 500)
        except smtplib.SMTPAuthenticationError as exc:
            return self._refused("authentication failed", exc.smtp_code, exc.smtp_error, False)
        except smtplib.SMTPSenderRefused as exc:
            return self._refused("sender refused", exc.smtp_code, exc.smtp_error, False)
        except smtplib.SMTPResponseException as exc:  # includes SMTPDataError
            code = exc.smtp_code
            return self._refused("rejected", code, exc.smtp_error, permanent=500 <= code < 600)
        except (smtplib.SMTPException, OSError) as exc:  # disconnects, timeouts, TLS, DNS
            log.warning("smtp send of %s failed: %s", message.message_id, type(exc).__name__)
            return Delivery(ok=False, detail=redact(f"smtp {type(exc).__name__}: {exc}")[:300])
        log.info("smtp accepted %s", message.message_id)
        return Delivery(ok=True, detail="accepted", status_code=250)

    def _transmit(self, mail: EmailMessage) -> None:
        s = self.settings
        port = s.effective_port
        context = ssl.create_default_context(cafile=s.ca_file) if s.security != "none" else None
        client: smtplib.SMTP
        if s.security == "tls":
            client = smtplib.SMTP_SSL(s.host, port, timeout=s.timeout, context=context)
        else:
            client = smtplib.SMTP(s.host, port, timeout=s.timeout)
        with client:
            if s.security == "starttls":
                client.starttls(context=context)
            if s.username is not None and s.password is not None:
                client.login(s.username, s.password)
            client.send_message(mail)

    def _refused(self, what: str, code: int, reply: bytes | str, permanent: bool) -> Delivery:
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        detail = redact(f"smtp {code} {what}: {' '.join(text.split())}")[:300]
        log.warning("smtp %s %d (%s)", what, code, "permanent" if permanent else "temporary")
        return Delivery(ok=False, permanent=permanent, detail=detail, status_code=code)
