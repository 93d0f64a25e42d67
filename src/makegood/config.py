"""Settings from MAKEGOOD_* environment variables, parsed once and passed explicitly."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from makegood.domain.errors import MakegoodError

DEFAULT_DATABASE = "sqlite:///makegood.db"


class ConfigError(MakegoodError):
    pass


def database_url(value: str) -> str:
    """A database URL as given, or a path to an SQLite file turned into one: `--db` and
    ``MAKEGOOD_DATABASE_URL`` accept both."""
    return value if "://" in value else f"sqlite:///{Path(value)}"


def sqlite_path(url: str) -> Path | None:
    """The file behind an SQLite URL; None for other databases and in-memory SQLite."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("://", 1)[1].removeprefix("/").split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE
    database_schema: str | None = None
    policy: Path | None = None  # None: the shipped food-delivery policy
    secret: str = "makegood-development-secret-change-me"  # noqa: S105 (dev default; set MAKEGOOD_SECRET)
    outbox_file: Path | None = None  # the file channel's output; None: the console
    templates: Path | None = None  # a folder of templates that override the shipped ones
    webhook_url: str | None = None
    webhook_secret: str | None = None
    batch_size: int = 2000

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        def get(name: str) -> str | None:
            value = environ.get(f"MAKEGOOD_{name}")
            return value if value else None

        batch = get("BATCH_SIZE") or "2000"
        if not batch.isdigit() or int(batch) < 1:
            raise ConfigError(f"MAKEGOOD_BATCH_SIZE must be a positive integer, got {batch!r}")
        policy = get("POLICY")
        outbox = get("OUTBOX_FILE")
        templates = get("TEMPLATES")
        return cls(
            database_url=database_url(get("DATABASE_URL") or DEFAULT_DATABASE),
            database_schema=get("DATABASE_SCHEMA"),
            policy=Path(policy) if policy else None,
            secret=get("SECRET") or cls.secret,
            outbox_file=Path(outbox) if outbox else None,
            templates=Path(templates) if templates else None,
            webhook_url=get("WEBHOOK_URL"),
            webhook_secret=get("WEBHOOK_SECRET"),
            batch_size=int(batch),
        )

    def with_database(self, url: str) -> Settings:
        return Settings(**{**self.__dict__, "database_url": url})
