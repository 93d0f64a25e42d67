"""`makegood serve` (API + dashboard + engine on the real clock) and `makegood token …`."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from makegood.adapters.clock import SystemClock
from makegood.adapters.sql.auth import ROLES, TokenError, create_token, list_tokens, revoke_token
from makegood.adapters.sql.store import SqlStore
from makegood.adapters.survey_link import serving_site
from makegood.adapters.text.schedule import scheduled_retraining
from makegood.bootstrap import App, bootstrap
from makegood.domain.errors import PolicyError
from makegood.entrypoints.cli_common import (
    DatabaseOption,
    console,
    err,
    fail,
    open_store,
    print_json,
)
from makegood.entrypoints.cli_common import settings as load_settings
from makegood.entrypoints.cli_worker import PrefixOption, StreamOption
from makegood.service_layer.actions import WAIT_S

if TYPE_CHECKING:
    from makegood.adapters.bus.nats import NatsBus

log = logging.getLogger(__name__)
GRACE_S = 3  # seconds a stopping server gives requests in flight, twice at most
# The engine's thread runs Python for long stretches; a request's threads (the event loop, the
# appender) wait for the GIL at every hand-over, up to the switch interval each time (5 ms by
# default). Measured with bench/api.py at 100 requests/s on this 2-core machine: 1 ms took
# the served rate from 49-53 to 75-78 requests/s and the engine from 3.5k to 5.1-5.5k events/s.
SWITCH_INTERVAL_S = 0.001

token_app = typer.Typer(
    help="API and dashboard tokens (only a hash is stored).", no_args_is_help=True
)


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on"),
    port: int = typer.Option(8000, min=0, max=65535),
    db: str = DatabaseOption,
    max_body_mb: float = typer.Option(4.0, min=0.01, help="Largest request body accepted"),
    log_level: str = typer.Option("info"),
    log_format: str = typer.Option(
        "text",
        envvar="MAKEGOOD_LOG_FORMAT",
        help="text, or json: one JSON object per line (time, level, logger, message, and "
        "request_id, method, path, status, duration_ms for requests)",
    ),
    forwarded_allow_ips: str | None = typer.Option(
        None,
        envvar="MAKEGOOD_FORWARDED_ALLOW_IPS",
        help="Proxies trusted to set X-Forwarded-Proto/For (comma-separated); none by default",
    ),
    bus: str | None = typer.Option(
        None,
        "--bus",
        help="NATS URL: publish events to JetStream and send people's actions to the workers "
        "owning their partitions (`makegood worker`), instead of deciding here",
    ),
    stream: str = StreamOption,
    prefix: str = PrefixOption,
    action_wait: float = typer.Option(
        WAIT_S, "--action-wait", min=0.1, help="With --bus: seconds an action waits for its worker"
    ),
) -> None:
    """Run the HTTP API, the dashboard and the engine (timers and outbox) in one process.

    SIGTERM or Ctrl-C stops accepting requests, lets the engine finish its batch, and exits
    within a few seconds: a request still working after that is abandoned (its transaction
    rolls back, its sender had no answer and sends again)."""
    import uvicorn

    from makegood.entrypoints.api import create_app
    from makegood.entrypoints.api.middleware import RedactingFilter
    from makegood.entrypoints.api.tracing import JsonFormatter

    if log_format not in ("text", "json"):
        raise fail(f"--log-format is text or json, not {escape(log_format)}")
    formatter = (
        JsonFormatter()
        if log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    _logging(log_level, RedactingFilter(), formatter)
    try:
        app = bootstrap(load_settings(db), event_time=False, site=serving_site(host, port))
    except (ValueError, PolicyError) as error:
        raise fail(escape(str(error))) from None
    producer = _producer(app, bus, stream, prefix) if bus else None
    api = create_app(app, background=True, max_body=int(max_body_mb * 1024 * 1024), bus=producer)
    if producer is not None:
        api.state.services.actions.wait = action_wait
    scheduled_retraining(app.store.engine, app.policy, load_settings(db).policy)
    config = uvicorn.Config(
        api,
        host=host,
        port=port,
        # not uvloop even where it is installed: with answers handed back from the appender's
        # thread it doubled the median latency here (bench/api.py, docs/PERFORMANCE.md)
        loop="asyncio",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=GRACE_S,
        proxy_headers=forwarded_allow_ips is not None,
        forwarded_allow_ips=forwarded_allow_ips,
    )
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    # uvicorn re-raises the signal that stopped it once it is done; by then the engine has
    # stopped cleanly, so that second delivery only needs to be absorbed for a zero exit code
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    uvicorn.Server(config).run()
    unfinished = _wait_for_requests(time.monotonic() + GRACE_S)
    if producer is not None:
        producer.close()
    app.store.dispose()
    err.print("makegood stopped")
    if unfinished:  # worker threads are not daemons: exiting normally would wait for them
        log.warning("stopped with %d request(s) unfinished; they roll back", unfinished)
        logging.shutdown()
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(0)


def _producer(app: App, url: str, stream: str, prefix: str) -> NatsBus:
    from makegood.adapters.bus.nats import NatsBus

    with app.store.reader() as session:
        count = session.partitions()
    try:
        return NatsBus(url, stream=stream, prefix=prefix, partitions=count)
    except Exception as error:  # connecting: nats-py raises its own kinds, and OSError
        raise fail(escape(f"the bus at {url}: {error}")) from None


def _wait_for_requests(deadline: float) -> int:
    """Give requests still running in worker threads until `deadline`; answer how many are
    still running then."""
    busy = [
        t
        for t in threading.enumerate()
        if t is not threading.current_thread() and not t.daemon and t.is_alive()
    ]
    for thread in busy:
        thread.join(timeout=max(deadline - time.monotonic(), 0))
    return sum(t.is_alive() for t in busy)


def _logging(level: str, redacting: logging.Filter, formatter: logging.Formatter) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    handler.addFilter(redacting)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


@token_app.command("create")
def create(
    role: str = typer.Option(..., help=f"One of {', '.join(ROLES)}"),
    name: str = typer.Option(..., help="Who uses it; recorded as the actor of what they do"),
    db: str = DatabaseOption,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Create a token and print it once; only its hash is stored."""
    config = load_settings(db)
    store = SqlStore(config.database_url, config.database_schema)
    store.migrate()
    try:
        token_id, token = create_token(store.engine, role, name, SystemClock().now())
    except TokenError as error:
        raise fail(escape(str(error))) from None
    if as_json:
        print_json({"id": token_id, "name": name, "role": role, "token": token})
        return
    err.print(f"Token {token_id} for {escape(name)} ({role}). It is shown once; keep it safe:")
    typer.echo(token)


@token_app.command("list")
def list_(db: str = DatabaseOption) -> None:
    """Tokens by id, name and role (never the token)."""
    store = open_store(load_settings(db))
    rows: list[dict[str, Any]] = list_tokens(store.engine)
    for row in rows:
        revoked = f" revoked {row['revoked_at']:%Y-%m-%d}" if row["revoked_at"] else ""
        console.print(
            f"{row['id']}  {escape(str(row['name']))}  {row['role']}{revoked}", highlight=False
        )


@token_app.command("revoke")
def revoke(token_id: str, db: str = DatabaseOption) -> None:
    """Revoke a token by id; it stops working within seconds."""
    store = open_store(load_settings(db))
    if not revoke_token(store.engine, token_id, SystemClock().now()):
        raise fail(f"no active token {escape(token_id)}")
    console.print(f"token {escape(token_id)} revoked")


def standalone() -> typer.Typer:
    """`python -m makegood.entrypoints.cli_serve …`, for tests until cli.py mounts these."""
    app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
    app.command("serve")(serve)
    app.add_typer(token_app, name="token")
    return app


if __name__ == "__main__":
    standalone()()
