"""Acceptance tests run the installed `makegood` console script as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# `python -m makegood.entrypoints.cli` would not call main(): use the console script
MAKEGOOD = Path(sys.executable).parent / "makegood"


class Cli:
    """Runs `makegood` in a directory, with no MAKEGOOD_* settings leaking in from outside."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MAKEGOOD_")}
        self.env["PYTHONIOENCODING"] = "utf-8"

    def command(self, args: tuple[object, ...]) -> list[str]:
        return [str(MAKEGOOD), *map(str, args)]

    def __call__(self, *args: object, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(args),
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            check=False,
        )

    def start(self, *args: object) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(args),
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )


@pytest.fixture
def makegood(tmp_path: Path) -> Cli:
    """`makegood(*args)` runs the CLI in tmp_path and returns the completed process."""
    return Cli(tmp_path)


@pytest.fixture(scope="session")
def cli_in() -> type[Cli]:
    """`cli_in(directory)`: a `makegood` runner for fixtures wider than one test."""
    return Cli
