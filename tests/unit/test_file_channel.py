from __future__ import annotations

import io
import json
from pathlib import Path

from makegood.adapters.channels.file import ConsoleChannel, FileChannel, mask_recipient
from makegood.domain.message import Rendered


def rendered(n: int = 1, recipient: str | None = "ana.silva@example.com") -> Rendered:
    return Rendered(
        message_id=f"m{n}",
        idempotency_key=f"k{n}",
        channel="file",
        recipient=recipient,
        subject="Pedimos desculpas",
        text="Olá, Ana\n",
        html="<p>Olá, Ana</p>",
    )


def test_each_message_is_one_json_line_with_the_address_masked(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    channel = FileChannel(path)
    assert channel.send(rendered(1)).ok
    assert channel.send(rendered(2, recipient=None)).ok
    lines = path.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["message_id"] for r in records] == ["m1", "m2"]
    assert records[0]["recipient"] == "a***@example.com"
    assert records[0]["subject"] == "Pedimos desculpas"
    assert "ana.silva" not in path.read_text(encoding="utf-8")


def test_a_stream_and_the_console(capsys: object) -> None:
    stream = io.StringIO()
    assert FileChannel(stream=stream, show_recipient=True).send(rendered()).ok
    assert json.loads(stream.getvalue())["recipient"] == "ana.silva@example.com"
    assert ConsoleChannel().send(rendered()).ok
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert json.loads(out)["idempotency_key"] == "k1"


def test_a_write_error_is_a_temporary_failure(tmp_path: Path) -> None:
    delivery = FileChannel(tmp_path / "missing-dir" / "out.jsonl").send(rendered())
    assert not delivery.ok and not delivery.permanent


def test_masking() -> None:
    assert mask_recipient("https://ops.test/hooks/secret-token") == "https://ops.test/***"
    assert mask_recipient("nobody") == "***"
    assert mask_recipient(None) is None
