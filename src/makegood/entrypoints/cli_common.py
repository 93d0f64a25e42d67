"""What the CLI commands share: settings, the console, errors as messages with exit codes."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from makegood.adapters.jsontext import to_json
from makegood.config import Settings

# piped output (CI logs, files) gets room for the tables instead of 80 columns
console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)

DatabaseOption = typer.Option(
    None,
    "--db",
    help="Database URL or SQLite file (default: $MAKEGOOD_DATABASE_URL or ./makegood.db)",
)


def settings(db: str | None = None) -> Settings:
    base = Settings.from_env(os.environ)
    if db:
        url = db if "://" in db else f"sqlite:///{Path(db)}"
        base = base.with_database(url)
    return base


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def print_json(data: Any) -> None:
    typer.echo(to_json(data, indent=2))
