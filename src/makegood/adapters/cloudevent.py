"""CloudEvents 1.0 over HTTP, read with the official SDK into makegood's event envelope.

The three HTTP modes of the spec's HTTP binding:
- structured: ``Content-Type: application/cloudevents+json``, the event is the JSON body;
- batch: ``Content-Type: application/cloudevents-batch+json``, a JSON array of such events;
- binary: the attributes in ``ce-*`` headers (percent-decoded by the SDK), the body is `data`.

The envelope: ``source`` and ``id`` together are the idempotency key (the spec says a producer
keeps ``id`` unique within its ``source``), so the makegood id is ``source#id``; ``time`` is
``occurred_at`` (required here: makegood decides by when things happened); ``subject`` is
``subject_id``; the customer is the extension attribute ``customerid`` (extension names are
lower-case letters and digits) or, failing that, ``customer_id`` inside ``data``; ``data`` (a
JSON object) is the attributes. The SDK fills a missing ``id`` or ``time`` with a fresh one:
that would defeat idempotency, so both are checked before the SDK sees the event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings.http import HTTPMessage, from_binary
from cloudevents.core.exceptions import BaseCloudEventException, CloudEventValidationError
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from makegood.adapters.json_input import MAX_DEPTH, BadJson, read_json, too_deep
from makegood.domain.event import Rejection

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
CUSTOMER_EXTENSION = "customerid"
MAX_ID = 200  # the store's id column


@dataclass(frozen=True)
class Decoded:
    """One CloudEvent as makegood's raw event, or why it was refused (with its text)."""

    raw: dict[str, Any] | None
    rejection: Rejection | None
    text: str


def mode(headers: Mapping[str, str]) -> str | None:
    """ "structured", "batch" or "binary" for a CloudEvents request, else None."""
    lowered = {k.lower(): v for k, v in headers.items()}
    content_type = lowered.get("content-type", "").split(";")[0].strip().lower()
    if content_type == STRUCTURED:
        return "structured"
    if content_type == BATCH:
        return "batch"
    if "ce-specversion" in lowered:
        return "binary"
    return None


def decode(headers: Mapping[str, str], body: bytes) -> list[Decoded]:
    """The events of a CloudEvents HTTP request (see `mode`). A body that is not JSON where
    JSON is due gives one refusal for the whole request."""
    kind = mode(headers)
    if kind == "binary":
        attributes = {k.lower()[3:]: v for k, v in headers.items() if k.lower().startswith("ce-")}
        text = json.dumps({"headers": attributes, "body": _excerpt(body)})
        if too_deep(body.decode("utf-8", "replace"), MAX_DEPTH):  # the SDK's parser recurses
            return [Decoded(None, Rejection("data", f"nested deeper than {MAX_DEPTH}"), text)]
        try:
            event = from_binary(
                HTTPMessage({k.lower(): v for k, v in headers.items()}, body),
                JSONFormat(),
                _checked,
            )
        except _Refused as refused:
            return [Decoded(None, Rejection(refused.field, refused.reason), text)]
        except (BaseCloudEventException, TypeError) as error:
            return [Decoded(None, _rejection(error), text)]
        except ValueError as error:  # the SDK parses `time` before it builds the event
            return [Decoded(None, Rejection("time", f"not an RFC 3339 time: {error}"), text)]
        return [_envelope(event, text)]
    try:
        parsed = read_json(body)
    except BadJson as error:
        return [Decoded(None, Rejection("body", str(error)), _excerpt(body))]
    if kind == "batch":
        if not isinstance(parsed, list) or not parsed:
            reason = "a batch is a JSON array of at least one event"
            return [Decoded(None, Rejection("body", reason), _excerpt(body))]
        return [_structured(item) for item in parsed]
    return [_structured(parsed)]


class _Refused(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def _checked(attributes: dict[str, Any], data: Any) -> BaseCloudEvent:
    """The SDK's v1 event, refusing what it would otherwise make up (id, time)."""
    if attributes.get("specversion") != "1.0":
        raise _Refused("specversion", "must be 1.0")
    for name in ("id", "time"):
        if not attributes.get(name):
            raise _Refused(name, "is required")
    return CloudEvent(attributes, data)


def _structured(item: Any) -> Decoded:
    text = json.dumps(item, default=str)[:10_000]
    if not isinstance(item, dict):
        return Decoded(None, Rejection("", "a CloudEvent is a JSON object"), text)
    try:
        event = JSONFormat().read(_checked, json.dumps(item))
    except _Refused as refused:
        return Decoded(None, Rejection(refused.field, refused.reason, _id(item)), text)
    except (BaseCloudEventException, TypeError) as error:
        return Decoded(None, _rejection(error, _id(item)), text)
    except ValueError as error:  # the SDK parses `time` before it builds the event
        reason = f"not an RFC 3339 time: {error}"
        return Decoded(None, Rejection("time", reason, _id(item)), text)
    return _envelope(event, text)


def _envelope(event: BaseCloudEvent, text: str) -> Decoded:
    source, ce_id = str(event.get_source()), str(event.get_id())
    key = f"{source}#{ce_id}"
    if len(key) > MAX_ID:
        key = "ce-" + hashlib.sha256(key.encode()).hexdigest()
    data = event.get_data()
    attributes: dict[str, Any]
    if isinstance(data, dict):
        attributes = dict(data)
    elif data is None:
        attributes = {}
    elif isinstance(data, str):
        attributes = {"data": data}
    else:
        return Decoded(None, Rejection("data", "must be JSON or text, not binary", key), text)
    customer = event.get_extension(CUSTOMER_EXTENSION) or attributes.get("customer_id")
    if not customer:
        reason = f"the extension attribute {CUSTOMER_EXTENSION!r} (or data.customer_id) is required"
        return Decoded(None, Rejection(CUSTOMER_EXTENSION, reason, key), text)
    time = event.get_time()
    if not isinstance(time, datetime) or time.tzinfo is None:
        return Decoded(None, Rejection("time", "must be RFC 3339 with a time zone", key), text)
    raw: dict[str, Any] = {
        "id": key,
        "type": event.get_type(),
        "occurred_at": time.isoformat(),
        "customer_id": str(customer),
        "attributes": attributes,
    }
    if event.get_subject():
        raw["subject_id"] = event.get_subject()
    return Decoded(raw, None, text)


def _rejection(error: Exception, event_id: str | None = None) -> Rejection:
    if isinstance(error, CloudEventValidationError) and error.errors:
        field, problems = next(iter(error.errors.items()))
        return Rejection(field, "; ".join(str(p) for p in problems), event_id)
    field = str(getattr(error, "attribute_name", "") or "")
    return Rejection(field, str(error), event_id)


def _id(item: Mapping[str, Any]) -> str | None:
    value = item.get("id")
    return value if isinstance(value, str) else None


def _excerpt(body: bytes) -> str:
    return body[:10_000].decode("utf-8", errors="replace")
