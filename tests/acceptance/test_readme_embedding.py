"""The README's "Embed it in Python" example runs as written, in an empty folder."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_embedding_example_runs(tmp_path: Path) -> None:
    section = README.read_text(encoding="utf-8").split("## Embed it in Python", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "the README lost its Python example"
    script = tmp_path / "example.py"
    script.write_text(match.group(1), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8"},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "2 events, 1 failure"
    assert lines[1].startswith("late_delivery resolved")
    assert "apology" in lines[1] or "acknowledge" in lines[1], lines
    assert (tmp_path / "shop.db").exists()
