"""What every route needs: the services, and who is calling (bearer token → role)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from makegood.adapters.sql.auth import Principal, authenticate, hash_token
from makegood.adapters.telemetry import Telemetry
from makegood.bootstrap import App
from makegood.domain.actions import Actor
from makegood.entrypoints.api.middleware import RateLimiter
from makegood.service_layer.actions import Actions
from makegood.service_layer.appender import GroupAppend
from makegood.service_layer.publisher import BusIngest

READERS = ("agent", "lead", "admin")
WRITERS = ("ingest", "admin")
AUTH_CACHE_S = 10.0  # a revoked token stops working within this many seconds


@dataclass
class Services:
    app: App
    actions: Actions
    telemetry: Telemetry  # the application's metrics (GET /metrics)
    # `serve`: appends of concurrent requests grouped; `serve --bus`: published
    appender: GroupAppend | BusIngest | None = None
    # survey answers per client address: one application's, not the process's
    survey_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(rate=30, burst=10))
    _auth: dict[str, tuple[Principal | None, float]] = field(default_factory=dict)

    def cached(self, token: str) -> tuple[Principal | None] | None:
        """What `authenticate` answered for `token` in the last seconds, if it did."""
        cached = self._auth.get(hash_token(token))
        return (cached[0],) if cached is not None and cached[1] > time.monotonic() else None

    def authenticate(self, token: str) -> Principal | None:
        key = hash_token(token)
        cached = self._auth.get(key)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        found = authenticate(self.app.store.engine, token)
        if len(self._auth) > 10_000:
            self._auth.clear()
        self._auth[key] = (found, now + AUTH_CACHE_S)
        return found


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


bearer = HTTPBearer(auto_error=False, description="A token from `makegood token create`")


async def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    # async: a token seen in the last seconds costs no worker thread (two thread hops per
    # request, each a wait for the GIL under load); only a look-up in the store takes one
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )
    svc = services(request)
    cached = svc.cached(credentials.credentials)
    found = (
        cached[0]
        if cached is not None
        else await run_in_threadpool(svc.authenticate, credentials.credentials)
    )
    if found is None:
        raise HTTPException(401, "the token is not valid", headers={"WWW-Authenticate": "Bearer"})
    return found


def require(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if who.role not in roles:
            raise HTTPException(
                403, f"the {who.role} role may not do this (needs {' or '.join(roles)})"
            )
        return who

    return check


def actor_of(who: Principal) -> Actor:
    return Actor(who.name, who.role)


Reader = Annotated[Principal, Depends(require(*READERS))]
Ingester = Annotated[Principal, Depends(require(*WRITERS))]
Anyone = Annotated[Principal, Depends(principal)]
Svc = Annotated[Services, Depends(services)]
