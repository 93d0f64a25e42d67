"""`makegood outbox [--status pending|sent|dead]`: the messages on their way out, and the dead
letters with the reason each was given up.

Recipients are never shown, and errors are printed with anything like an e-mail address
redacted: a provider's answer may quote the address it refused.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
import typer
from rich.markup import escape

from makegood.adapters.channels.smtp import redact
from makegood.adapters.sql import schema as t
from makegood.domain.message import DEAD, PENDING, SENT
from makegood.entrypoints.cli_common import DatabaseOption, err, fail, open_store, print_json
from makegood.entrypoints.cli_common import settings as load_settings

STATUSES = (PENDING, SENT, DEAD)
COLUMNS = (
    "id",
    "case_id",
    "template",
    "channel",
    "status",
    "attempts",
    "last_error",
    "created_at",
    "next_attempt_at",
    "sent_at",
)


def list_messages(
    c: sa.Connection, status: str | None, channel: str | None, limit: int
) -> list[dict[str, Any]]:
    """Outbox rows, newest first, without recipient or context."""
    query = (
        sa.select(*(t.outbox.c[name] for name in COLUMNS))
        .order_by(t.outbox.c.created_at.desc(), t.outbox.c.id)
        .limit(limit)
    )
    if status:
        query = query.where(t.outbox.c.status == status)
    if channel:
        query = query.where(t.outbox.c.channel == channel)
    found = [dict(r._mapping) for r in c.execute(query)]
    for row in found:
        row["last_error"] = redact(row["last_error"]) if row["last_error"] else None
    return found


def outbox(
    status: str = typer.Option(None, "--status", help="pending, sent or dead"),
    channel: str = typer.Option(None, "--channel", help="only this channel (email, webhook …)"),
    limit: int = typer.Option(100, min=1, max=100_000),
    as_json: bool = typer.Option(False, "--json"),
    db: str = DatabaseOption,
) -> None:
    """List outbox messages, newest first: status, tries, and why the last one failed."""
    if status is not None and status not in STATUSES:
        raise fail(f"--status must be one of {', '.join(STATUSES)}")
    store = open_store(load_settings(db))
    try:
        with store.engine.connect() as c:
            found = list_messages(c, status, channel, limit)
    except sa.exc.OperationalError as error:
        raise fail(escape(f"cannot read the outbox: {error.orig}")) from None
    finally:
        store.dispose()
    if as_json:
        print_json(found)
        return
    # one line a message (and its error indented below): readable at any width, greppable
    for row in found:
        typer.echo(
            f"{row['id']}  {row['status']:<7} {row['channel']:<8} {row['template']:<14} "
            f"tries={row['attempts']}  case={row['case_id'] or '-'}"
        )
        if row["last_error"]:
            typer.echo(f"    {' '.join(row['last_error'].split())}")
    if not found:
        err.print("no messages")
