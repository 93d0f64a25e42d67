"""API tokens and dashboard sessions: shown once, stored as a SHA-256 hash, looked up by it.

A token is 32 random bytes (``mg_`` + URL-safe base64), so a plain SHA-256 is enough: there is
nothing to brute-force that a slow hash would protect. The plaintext never reaches the database.
A session is the same idea for the dashboard's cookie: 32 random bytes, a row per sign-in,
deleted at sign-out, so a copied cookie stops working the moment its owner signs out.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from makegood.adapters.sql import schema as t
from makegood.domain.errors import MakegoodError

ROLES = ("ingest", "agent", "lead", "admin")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
PREFIX = "mg_"


class TokenError(MakegoodError):
    pass


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's name (recorded as the actor) and its role."""

    token_id: str
    name: str
    role: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(engine: sa.Engine, role: str, name: str, now: datetime) -> tuple[str, str]:
    """(token id, plaintext token). The plaintext is returned once and never stored."""
    if role not in ROLES:
        raise TokenError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if not NAME.match(name):
        raise TokenError(
            "name must be 1-100 letters, digits, dots, dashes or underscores "
            "(no e-mail addresses: names appear in the audit trail)"
        )
    token = PREFIX + secrets.token_urlsafe(32)
    token_id = secrets.token_hex(8)
    with engine.begin() as c:
        c.execute(
            sa.insert(t.api_tokens).values(
                id=token_id, name=name, role=role, token_hash=hash_token(token), created_at=now
            )
        )
    return token_id, token


def authenticate(engine: sa.Engine, token: str) -> Principal | None:
    """The principal of a valid, unrevoked token; None for anything else."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    digest = hash_token(token)
    with engine.connect() as c:
        row = c.execute(sa.select(t.api_tokens).where(t.api_tokens.c.token_hash == digest)).first()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.token_hash, digest):  # defensive: the index matched already
        return None
    return Principal(row.id, row.name, row.role)


def revoke_token(engine: sa.Engine, token_id: str, now: datetime) -> bool:
    with engine.begin() as c:
        result = c.execute(
            sa.update(t.api_tokens)
            .where(t.api_tokens.c.id == token_id, t.api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    return bool(result.rowcount)


def list_tokens(engine: sa.Engine) -> list[dict[str, object]]:
    with engine.connect() as c:
        return [
            {
                "id": r.id,
                "name": r.name,
                "role": r.role,
                "created_at": r.created_at,
                "revoked_at": r.revoked_at,
            }
            for r in c.execute(sa.select(t.api_tokens).order_by(t.api_tokens.c.created_at))
        ]


def start_session(engine: sa.Engine, token_id: str, now: datetime, lifetime: timedelta) -> str:
    """A new session for the token; returns the cookie value (stored only as its hash).
    Expired sessions are swept here, so the table holds only live ones."""
    value = secrets.token_urlsafe(32)
    with engine.begin() as c:
        c.execute(sa.delete(t.sessions).where(t.sessions.c.expires_at <= now))
        c.execute(
            sa.insert(t.sessions).values(
                id_hash=hash_token(value),
                token_id=token_id,
                created_at=now,
                expires_at=now + lifetime,
            )
        )
    return value


def session_principal(engine: sa.Engine, value: str, now: datetime) -> Principal | None:
    """Who a session cookie belongs to: None when it is unknown, ended, expired, or its token
    was revoked. Any string is safe to pass (a tampered cookie is simply unknown)."""
    if not value or len(value) > 100:
        return None
    s, k = t.sessions, t.api_tokens
    with engine.connect() as c:
        row = c.execute(
            sa.select(k.c.id, k.c.name, k.c.role)
            .join(s, s.c.token_id == k.c.id)
            .where(s.c.id_hash == hash_token(value), s.c.expires_at > now, k.c.revoked_at.is_(None))
        ).first()
    return Principal(row.id, row.name, row.role) if row else None


def end_session(engine: sa.Engine, value: str) -> None:
    with engine.begin() as c:
        c.execute(sa.delete(t.sessions).where(t.sessions.c.id_hash == hash_token(value)))
