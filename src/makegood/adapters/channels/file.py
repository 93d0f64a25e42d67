"""The demo channel: each rendered message becomes one JSON line in a file or on a stream.

Recipients are masked (``j***@example.com``) unless `show_recipient` is set: the output is read
like a log, and addresses do not belong in logs.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from makegood.domain.message import Delivery, Rendered


def mask_recipient(recipient: str | None) -> str | None:
    """``jane@example.com`` -> ``j***@example.com``; URLs and other strings keep their scheme
    and host only."""
    if recipient is None:
        return None
    if "://" in recipient:
        scheme, _, rest = recipient.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}/***"
    local, at, domain = recipient.rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


class FileChannel:
    """Appends one JSON object a line to `path`, or writes to `stream` (stdout if neither)."""

    name = "file"

    def __init__(
        self,
        path: str | Path | None = None,
        stream: TextIO | None = None,
        show_recipient: bool = False,
    ) -> None:
        if path is not None and stream is not None:
            raise ValueError("give a path or a stream, not both")
        self.path = Path(path) if path is not None else None
        self.stream = stream
        self.show_recipient = show_recipient
        self._lock = threading.Lock()

    def send(self, message: Rendered) -> Delivery:
        line = json.dumps(self._record(message), ensure_ascii=False, default=str) + "\n"
        try:
            with self._lock:
                if self.path is not None:
                    with self.path.open("a", encoding="utf-8") as f:
                        f.write(line)
                else:
                    out = self.stream if self.stream is not None else sys.stdout
                    out.write(line)
                    out.flush()
        except OSError as exc:
            return Delivery(ok=False, detail=f"write failed: {exc.strerror or exc}")
        return Delivery(ok=True, detail=f"written to {self.path or 'stream'}")

    def _record(self, message: Rendered) -> dict[str, Any]:
        recipient = message.recipient if self.show_recipient else mask_recipient(message.recipient)
        record: dict[str, Any] = {
            "message_id": message.message_id,
            "idempotency_key": message.idempotency_key,
            "channel": message.channel,
            "recipient": recipient,
            "subject": message.subject,
            "text": message.text,
        }
        if message.html is not None:
            record["html"] = message.html
        if message.payload:
            record["payload"] = dict(message.payload)
        return record


class ConsoleChannel(FileChannel):
    """`FileChannel` on standard output (looked up at each send, so redirection works)."""

    name = "console"

    def __init__(self, show_recipient: bool = False) -> None:
        super().__init__(None, None, show_recipient)
