"""People's actions over the bus (`serve --bus`, issue 13).

On one machine an action is a closure run by the engine that owns the state (`Actions`). With
workers, the state of a customer is kept by the worker owning the customer's partition, in
another process: the API sends the action as a command (its name and arguments, JSON) on that
partition's subject, in turn with the partition's events; the owner applies it after the
events published before it (`perform`, with its own `Actions` on its engine) and answers on
the command's reply subject. The API waits `wait` seconds (10), then answers 503 (`Contended`).

A command carries the wall time it expires at (the API's wait): an owner that takes it later
(the partition was moving, the worker was stopped) drops it unanswered, so an action answered
503 is never applied behind the person's back. Grants and replies carry their idempotency key
from the API, so a command redelivered after its owner died before acknowledging it finds its
first outcome; a note redelivered so is written twice (rare: a crash between the commit and
the acknowledgement).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from makegood.domain.actions import ActionRefused, Actor, NotAllowed
from makegood.domain.compensation import BUDGET_WINDOW
from makegood.domain.errors import AlreadyDone, BudgetConflict, Contended, NotFound
from makegood.domain.message import OutboxMessage
from makegood.domain.model import Compensation
from makegood.service_layer.actions import Actions

log = logging.getLogger(__name__)

# what an owner may answer instead of a result: raised again in the API, as on one machine
ERRORS: dict[str, type[Exception]] = {
    e.__name__: e
    for e in (ActionRefused, NotAllowed, NotFound, BudgetConflict, Contended, AlreadyDone)
}
_TIMES = {"created_at", "decided_at", "expires_at", "next_attempt_at", "sent_at"}


class CommandBus(Protocol):
    def command(self, customer_id: str, body: Mapping[str, Any], wait: float) -> object | None:
        """Publish `body` on the customer's partition subject; the owner's answer, or None if
        none came within `wait` seconds."""
        ...


@dataclass
class BusActions(Actions):
    """`Actions` whose changes are made by the partition's owner (see the module's docstring);
    reads (`draft_reply`) stay here."""

    bus: CommandBus | None = None

    def _send(self, route: str, action: str, actor: Actor, **args: Any) -> Any:
        if self.bus is None:
            raise RuntimeError("BusActions needs a bus")
        wait = self.wait or 10.0
        body = {
            "id": uuid.uuid4().hex,
            "action": action,
            "actor": {"name": actor.name, "role": actor.role},
            "args": args,
            "expires": time.time() + wait,  # wall time: the owner's clock may be event time
            "request_id": self.request_id(),
        }
        answer = self.bus.command(route, body, wait)
        if not isinstance(answer, dict):
            raise Contended(f"no answer from the partition's owner within {wait:g} s; try again")
        if "error" in answer:
            raise ERRORS.get(answer["error"], ActionRefused)(answer.get("message", ""))
        return decode(answer.get("result"))

    def _customer(self, case_id: str) -> str:
        with self.store.reader() as session:
            now = self.clock.now()
            found = session.load((), (), {case_id}, now - BUDGET_WINDOW, set())
        case = found.cases.get(case_id)
        if case is None:
            raise NotFound(f"no case {case_id!r}")
        return case.customer_id

    def _on_case(self, case_id: str, action: str, actor: Actor, **args: Any) -> Any:
        return self._send(self._customer(case_id), action, actor, case_id=case_id, **args)

    def note(self, case_id: str, actor: Actor, text: str) -> None:
        self._on_case(case_id, "note", actor, text=text)

    def assign(self, case_id: str, actor: Actor, owner: str | None) -> None:
        self._on_case(case_id, "assign", actor, owner=owner)

    def add_collaborator(self, case_id: str, actor: Actor, name: str) -> None:
        self._on_case(case_id, "add_collaborator", actor, name=name)

    def remove_collaborator(self, case_id: str, actor: Actor, name: str) -> None:
        self._on_case(case_id, "remove_collaborator", actor, name=name)

    def resolve(self, case_id: str, actor: Actor, note: str | None = None) -> None:
        self._on_case(case_id, "resolve", actor, note=note)

    def close(self, case_id: str, actor: Actor) -> None:
        self._on_case(case_id, "close", actor)

    def reopen(self, case_id: str, actor: Actor) -> None:
        self._on_case(case_id, "reopen", actor)

    def grant(
        self,
        case_id: str,
        actor: Actor,
        kind: str,
        amount: Decimal,
        reason: str,
        idempotency_key: str | None = None,
    ) -> Compensation:
        key = idempotency_key or uuid.uuid4().hex  # here: a redelivered command is the same
        result: Compensation = self._on_case(
            case_id, "grant", actor, kind=kind, amount=str(amount), reason=reason,
            idempotency_key=key,
        )  # fmt: skip
        return result

    def reply(
        self,
        case_id: str,
        actor: Actor,
        template: str,
        text: str,
        idempotency_key: str | None = None,
    ) -> OutboxMessage:
        key = idempotency_key or uuid.uuid4().hex
        result: OutboxMessage = self._on_case(
            case_id, "reply", actor, template=template, text=text, idempotency_key=key
        )
        return result

    def approve(
        self,
        case_id: str,
        compensation_id: str,
        actor: Actor,
        customer_id: str = "",
        cause: str = "",
        reason: str = "",
    ) -> Compensation:
        result: Compensation = self._send(
            customer_id or self._customer(case_id), "approve", actor, case_id=case_id,
            compensation_id=compensation_id, customer_id=customer_id, cause=cause, reason=reason,
        )  # fmt: skip
        return result

    def reject(
        self,
        case_id: str,
        compensation_id: str,
        actor: Actor,
        reason: str,
        customer_id: str = "",
        cause: str = "",
    ) -> Compensation:
        result: Compensation = self._send(
            customer_id or self._customer(case_id), "reject", actor, case_id=case_id,
            compensation_id=compensation_id, reason=reason, customer_id=customer_id, cause=cause,
        )  # fmt: skip
        return result

    def declare_incident(self, actor: Actor, spec_name: str, key: str) -> str:
        # an incident is no customer's: the owner of its key's partition declares it
        result: str = self._send(key, "declare_incident", actor, spec_name=spec_name, key=key)
        return result

    def resolve_incident(self, actor: Actor, incident_id: str) -> None:
        self._send(incident_id, "resolve_incident", actor, incident_id=incident_id)


_CALLS: dict[str, Callable[[Actions, Actor, dict[str, Any]], object]] = {
    "note": lambda a, who, x: a.note(x["case_id"], who, x["text"]),
    "assign": lambda a, who, x: a.assign(x["case_id"], who, x["owner"]),
    "add_collaborator": lambda a, who, x: a.add_collaborator(x["case_id"], who, x["name"]),
    "remove_collaborator": lambda a, who, x: a.remove_collaborator(x["case_id"], who, x["name"]),
    "resolve": lambda a, who, x: a.resolve(x["case_id"], who, x["note"]),
    "close": lambda a, who, x: a.close(x["case_id"], who),
    "reopen": lambda a, who, x: a.reopen(x["case_id"], who),
    "grant": lambda a, who, x: a.grant(
        x["case_id"], who, x["kind"], Decimal(x["amount"]), x["reason"], x["idempotency_key"]
    ),
    "reply": lambda a, who, x: a.reply(
        x["case_id"], who, x["template"], x["text"], x["idempotency_key"]
    ),
    "approve": lambda a, who, x: a.approve(
        x["case_id"], x["compensation_id"], who, x["customer_id"], x["cause"], x["reason"]
    ),
    "reject": lambda a, who, x: a.reject(
        x["case_id"], x["compensation_id"], who, x["reason"], x["customer_id"], x["cause"]
    ),
    "declare_incident": lambda a, who, x: a.declare_incident(who, x["spec_name"], x["key"]),
    "resolve_incident": lambda a, who, x: a.resolve_incident(who, x["incident_id"]),
}


def perform(make: Callable[[str | None], Actions], body: object, now: float) -> object | None:
    """The owner's side: apply the command `body` with the `Actions` `make` gives for its
    request id; answers what goes back to the API (its result, or the refusal), or None if
    the command expired (`now`: wall time) or is not one."""
    if not isinstance(body, dict) or body.get("action") not in _CALLS:
        log.warning("not a command, dropped: %.200r", body)
        return None
    if float(body.get("expires", 0)) < now:
        log.warning("command %s expired before it was taken, dropped", body.get("id"))
        return None
    try:
        actor = Actor(str(body["actor"]["name"]), str(body["actor"]["role"]))
        result = _CALLS[body["action"]](make(body.get("request_id")), actor, body["args"])
    except tuple(ERRORS.values()) as refused:
        return {"error": type(refused).__name__, "message": str(refused)}
    except (KeyError, TypeError, ValueError, ArithmeticError) as bad:
        return {"error": "ActionRefused", "message": f"a malformed command: {bad!r}"}
    return {"result": encode(result)}


def encode(value: object) -> object:
    """A result as JSON: a compensation or a message by its fields (money and times as text)."""
    if isinstance(value, Compensation | OutboxMessage):
        kind = "compensation" if isinstance(value, Compensation) else "message"
        return {"type": kind, **{f.name: _plain(getattr(value, f.name)) for f in fields(value)}}
    return value


def decode(value: object) -> object:
    if not isinstance(value, dict) or "type" not in value:
        return value
    data = {k: v for k, v in value.items() if k != "type"}
    for name in _TIMES & set(data):
        if data[name] is not None:
            data[name] = datetime.fromisoformat(data[name])
    if value["type"] == "compensation":
        data["amount"] = Decimal(data["amount"])
        return Compensation(**data)
    return OutboxMessage(**data)


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
