"""The request id, and structured JSON logs that carry it.

Each request gets an id: the caller's `X-Request-ID` when it is short and plain (letters,
digits, `._:-`, up to 100 characters), otherwise a fresh one. It is echoed in the response
header, carried by every log record written while the request runs (a context variable, which
the thread pool copies into sync routes), and written into the data of the timeline entries
the request makes (`Actions.request_id`).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

REQUEST_ID: ContextVar[str | None] = ContextVar("makegood_request_id", default=None)
VALID = re.compile(r"[A-Za-z0-9._:-]{1,100}")
FIELDS = ("request_id", "method", "path", "status", "duration_ms")


def request_id_from(header: bytes | None) -> str:
    if header is not None:
        text = header.decode("latin-1")
        if VALID.fullmatch(text):
            return text
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    return REQUEST_ID.get()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the request's fields when there
    is a request, and the traceback if any. Runs after the handler's redaction filter, so the
    message and the traceback are already redacted."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        entry.setdefault("request_id", REQUEST_ID.get())
        if entry["request_id"] is None:
            del entry["request_id"]
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)
