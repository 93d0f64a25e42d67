"""A real `makegood serve` process on a free loopback port, with a token for each role."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import httpx

from makegood.adapters.renderer import shipped_templates
from makegood.adapters.sql.auth import create_token
from makegood.adapters.sql.store import SqlStore
from makegood.adapters.survey_link import survey_token
from makegood.domain.model import stable_id

T = TypeVar("T")
SECRET = "test-secret-for-the-api-suite"
ROLES = ("ingest", "agent", "lead", "admin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def roomy_policy(directory: Path) -> Path:
    """The shipped policy with room in the per-case budget above the agents' limit, so that a
    grant above an agent's limit can become an approval instead of breaking a budget."""
    shipped = shipped_templates().parent / "food_delivery.yaml"
    text = shipped.read_text(encoding="utf-8")
    text, cases = re.subn(r"(?m)^  per_case: \d+$", "  per_case: 150", text)
    text, customers = re.subn(r"(?m)^  per_customer_30d: \d+$", "  per_customer_30d: 300", text)
    assert cases == customers == 1, "the shipped policy's budgets moved"
    path = directory / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Server:
    directory: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    tokens: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    args: tuple[str, ...] = ()  # more `serve` options

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.directory / "serve.log"

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "makegood.entrypoints.cli_serve", *args],
            env=self.env,
            cwd=self.directory,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )

    def start(self) -> Server:
        # the first token through the real command; the others directly, to save start-ups
        out = self.cli("token", "create", "--role", "ingest", "--name", "ingest-1", "--json")
        self.tokens["ingest"] = json.loads(out.stdout)["token"]
        store = SqlStore(self.env["MAKEGOOD_DATABASE_URL"])
        for role in ROLES[1:]:
            self.tokens[role] = create_token(store.engine, role, f"{role}-1", datetime.now(UTC))[1]
        store.dispose()
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "makegood.entrypoints.cli_serve",
                    "serve",
                    "--port",
                    str(self.port),
                    "--max-body-mb",
                    "1",
                    *self.args,
                ],
                env=self.env,
                cwd=self.directory,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"makegood serve did not start:\n{self.log.read_text()}")

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def client(self, role: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)

    def survey_link(
        self, case_id: str, reopened: int = 0, expires_in: timedelta = timedelta(days=1)
    ) -> str:
        survey_id = stable_id("survey", case_id, str(reopened))
        token = survey_token(SECRET, survey_id, case_id, datetime.now(UTC) + expires_in)
        return f"{self.url}/s/{token}"


def make_server(directory: Path, database: Path | None = None) -> Server:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKEGOOD_")}
    env.update(
        MAKEGOOD_DATABASE_URL=f"sqlite:///{database or directory / 'makegood.db'}",
        MAKEGOOD_SECRET=SECRET,
        MAKEGOOD_POLICY=str(roomy_policy(directory)),
        MAKEGOOD_OUTBOX_FILE=str(directory / "outbox.jsonl"),
        PYTHONIOENCODING="utf-8",
    )
    return Server(directory, env)


def now_iso(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def acted_on(read: Callable[[], T], within: float = 15.0) -> T:
    """What `read` answers once it answers something: `serve` answers a POST once the events
    are in its log, and its engine loop acts on them just after (under load, not at once)."""
    deadline = time.monotonic() + within
    while True:
        found = read()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)
