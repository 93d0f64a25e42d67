"""`create_app(app)`: the FastAPI application behind `makegood serve`.

    /v1/...     the JSON API (bearer tokens with roles), documented at /docs and /openapi.json
    /           the dashboard (session cookie from a token, CSRF-protected forms)
    /s/{token}  the customer's survey page (signed, expiring, single-use link)
    /healthz    liveness and database reachability; /metrics: Prometheus text

With `background=True` the engine loop (the log and the timers, on the real clock) and the
dispatcher (the outbox) run in threads for the application's lifetime: a request that posts
events appends them to the log and answers, and the loop, woken by the append, acts on them.
Appends are made by one more thread for all requests waiting (group commit,
`service_layer/appender.py`), and take SQLite's writer before the engine's writes.
Shutdown stops both after their current batch; what is appended and not yet acted on stays in
the log for the next start, so nothing accepted is lost.

With a `bus` (`serve --bus`, workers decide: docs/SCALING.md) events are published to the bus
instead (`service_layer/publisher.py`) and people's actions travel to the partition's owner as
commands (`service_layer/commands.py`); no engine loop runs here, the dispatcher still does.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST

from makegood.adapters.sql.paging import BadCursor
from makegood.adapters.telemetry import Telemetry
from makegood.bootstrap import App
from makegood.domain.actions import ActionRefused, NotAllowed
from makegood.domain.errors import AlreadyDone, BudgetConflict, Contended, NotFound
from makegood.domain.limits import printable
from makegood.entrypoints.api import (
    approvals,
    cases,
    customers,
    events,
    openapi,
    replies,
    sources,
)
from makegood.entrypoints.api.deps import Anyone, Services, Svc
from makegood.entrypoints.api.middleware import Guard
from makegood.entrypoints.api.tracing import current_request_id
from makegood.service_layer.actions import Actions
from makegood.service_layer.appender import GroupAppend, TakingTurns
from makegood.service_layer.commands import BusActions, CommandBus
from makegood.service_layer.publisher import BusIngest, Publisher
from makegood.service_layer.runner import EngineLoop

log = logging.getLogger(__name__)
MAX_BODY = 4 * 1024 * 1024


def static_dir() -> Path:
    return Path(str(resources.files("makegood.entrypoints.dashboard").joinpath("static")))


STOP_S = 3  # how long shutdown waits for the engine's and dispatcher's current work
LIVE_FLUSH_S = 0.2  # `serve`: the most CPU-seconds of decisions kept unwritten


class ProducerBus(Publisher, CommandBus, Protocol):
    """What `serve --bus` needs of the bus: publishing events, sending commands."""


def create_app(
    app: App, *, background: bool = False, max_body: int = MAX_BODY, bus: ProducerBus | None = None
) -> FastAPI:
    telemetry = Telemetry(app.store.engine, app.clock, app.policy.policy.budgets.global_per_day)
    app.engine.observer = telemetry  # the engine reports its batches to this application
    # in the background the engine loop acts on the log: a request appends and returns
    app.engine.acts_on_append = not background
    if background:
        # a live log may not run dry under load: what the loop decides is written at least
        # every LIVE_FLUSH_S of deciding, so the desk, the metrics and a deadline's failure lag
        # the decision by about that (a file's ingest keeps the engine's larger bound)
        app.engine.flush_seconds = min(app.engine.flush_seconds, LIVE_FLUSH_S)
    actions = (
        Actions(
            app.store,
            app.policy,
            app.clock,
            app.engine.new_code,
            request_id=current_request_id,
            engine=app.engine,
        )
        if bus is None
        else BusActions(
            app.store,
            app.policy,
            app.clock,
            app.engine.new_code,
            request_id=current_request_id,
            engine=app.engine,
            bus=bus,
        )
    )
    # in the background one thread appends for every request (group commit); with a bus,
    # requests publish
    appender: GroupAppend | BusIngest | None = None
    if background and bus is not None:
        appender = BusIngest(app.engine, bus)
    elif background:
        appender = GroupAppend(app.engine)
        # the engine's writes give appends their turn first
        app.engine.store = TakingTurns(app.store, appender.turns)
    services = Services(app, actions, telemetry, appender=appender)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        threads = []
        if background:
            threads = [
                threading.Thread(
                    target=app.dispatcher.run, args=(stop,), name="makegood-dispatcher", daemon=True
                ),
            ]
            if bus is None:  # else the workers decide
                threads.append(
                    threading.Thread(
                        target=EngineLoop(app.engine).run,
                        args=(stop,),
                        name="makegood-engine",
                        daemon=True,
                    )
                )
            if isinstance(appender, GroupAppend):
                threads.append(
                    threading.Thread(
                        target=appender.run, args=(stop,), name="makegood-appender", daemon=True
                    )
                )
            for thread in threads:
                thread.start()
        try:
            yield
        finally:
            stop.set()
            deadline = time.monotonic() + STOP_S  # daemons: one stuck on a lock is abandoned
            for thread in threads:
                thread.join(timeout=max(deadline - time.monotonic(), 0))
            if isinstance(appender, BusIngest):
                appender.close()
            log.info("engine and dispatcher stopped")

    api = FastAPI(
        title="makegood",
        version="1",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description="Service recovery engine: events in, cases, compensation and "
        "approvals out. Authenticate with `Authorization: Bearer <token>`.",
    )
    api.state.services = services
    api.include_router(events.router)
    api.include_router(sources.router)
    api.include_router(cases.router)
    api.include_router(customers.router)
    api.include_router(approvals.router)
    api.include_router(replies.router)
    _errors(api)
    _operations(api)
    openapi.install(api)
    from makegood.entrypoints.dashboard import desk, lists, reply, routes, signin, survey
    from makegood.entrypoints.dashboard.session import SignInRequired

    api.include_router(survey.router)
    api.include_router(signin.router)
    api.include_router(lists.router)
    api.include_router(reply.router)
    api.include_router(desk.router)
    api.include_router(routes.router)
    api.add_exception_handler(SignInRequired, signin.to_sign_in)
    api.mount("/static", StaticFiles(directory=static_dir()), name="static")
    api.add_middleware(Guard, max_body=max_body, on_response=telemetry.response)
    return api


def _errors(api: FastAPI) -> None:
    def handler(status: int) -> Any:
        async def respond(request: Request, error: Exception) -> JSONResponse:
            return JSONResponse({"detail": str(error)}, status)

        return respond

    api.add_exception_handler(NotFound, handler(404))
    api.add_exception_handler(NotAllowed, handler(403))
    api.add_exception_handler(ActionRefused, handler(409))
    api.add_exception_handler(BudgetConflict, handler(503))
    api.add_exception_handler(AlreadyDone, handler(503))
    api.add_exception_handler(Contended, handler(503))

    async def bad_cursor(request: Request, error: Exception) -> JSONResponse:
        detail = [{"loc": ["query", "cursor"], "msg": str(error), "type": "value_error"}]
        return JSONResponse({"detail": detail}, 422)

    api.add_exception_handler(BadCursor, bad_cursor)

    async def invalid(request: Request, error: Exception) -> JSONResponse:
        # FastAPI's own answer, but the refused input it echoes may be Infinity or hold a lone
        # surrogate, which JSON (and UTF-8) cannot carry: that would turn a 422 into a 500
        errors = error.errors() if isinstance(error, RequestValidationError) else []
        return JSONResponse({"detail": _writable(jsonable_encoder(errors))}, 422)

    api.add_exception_handler(RequestValidationError, invalid)


def _writable(value: Any) -> Any:
    """`value` with what JSON text cannot hold made text: non-finite numbers, lone surrogates."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable(str(k)): _writable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_writable(v) for v in value]
    return value


def _operations(api: FastAPI) -> None:
    @api.get("/healthz", tags=["operations"])
    def healthz(services: Svc) -> JSONResponse:
        """Liveness: the process answers and the database does."""
        try:
            with services.app.store.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError:
            return JSONResponse({"status": "database unavailable"}, 503)
        return JSONResponse({"status": "ok"})

    @api.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    def prometheus(who: Anyone, services: Svc) -> Response:
        """Prometheus text format (`prometheus_client`): counters and histograms of this
        process, gauges read from the store now. Every name is listed in docs/API.md."""
        return Response(services.telemetry.exposition(), media_type=CONTENT_TYPE_LATEST)

    @api.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="makegood API",
            swagger_js_url="/static/vendor/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )
