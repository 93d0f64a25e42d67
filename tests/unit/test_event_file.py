"""Reading untrusted files and bodies: every bad line is a line with its number and reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from makegood.adapters.event_file import open_events, read_lines
from makegood.adapters.json_input import BadJson, read_json, too_deep

GOOD = {
    "id": "g1",
    "type": "order.placed",
    "occurred_at": "2026-11-01T12:00:00Z",
    "customer_id": "c1",
    "subject_id": "o1",
}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[" * 10_000 + "]" * 10_000, "nests deeper than 64 levels"),
        ('{"a":' * 900 + "1" + "}" * 900, "nests deeper than 64 levels"),
        ('{"n": ' + "9" * 5_000 + "}", "Exceeds the limit (4300 digits)"),
        (b"\xff{}", "not valid UTF-8 (byte 1)"),
        ("{", "not valid JSON"),
    ],
)
def test_bad_json_is_a_reason_never_a_crash(text, reason):
    with pytest.raises(BadJson, match=reason.replace("(", r"\(").replace(")", r"\)")):
        read_json(text)


def test_brackets_inside_strings_do_not_count():
    text = json.dumps({"a": "[" * 1_000, "b": '\\"[[[['})
    assert not too_deep(text, 2)
    assert read_json(text)["a"] == "[" * 1_000
    assert read_json("[NaN, 1e999]")[0] != read_json("[NaN]")[0]  # parse_event refuses them


def test_jsonl_never_aborts(tmp_path: Path):
    path = tmp_path / "events.jsonl"
    lines = [
        json.dumps(GOOD).encode(),
        b"[" * 10_000 + b"]" * 10_000,
        b'{"id": "big", "n": ' + b"9" * 5_000 + b"}",
        b'{"id": "bytes", "text": "caf\xe9"}',
        b'{"id": "nul\x00"}',
        json.dumps({**GOOD, "id": "g2"}).encode(),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    with open_events(path) as stream:
        read = list(read_lines(stream, "jsonl"))
    assert [(line.number, line.error is None) for line in read] == [
        (1, True),
        (2, False),
        (3, False),
        (4, False),
        (5, False),
        (6, True),
    ]
    assert read[3].error == "not valid UTF-8 (byte 29: \\xe9)"
    assert read[3].text == '{"id": "bytes", "text": "caf\\xe9"}'  # storable, shows the byte
    assert read[5].raw["id"] == "g2"


def test_csv_never_aborts(tmp_path: Path):
    path = tmp_path / "events.csv"
    header = "id,type,occurred_at,customer_id,subject_id,text\n"
    rows = [
        "a1,message.received,2026-11-01T12:00:00Z,c1,,hello\n",
        "a2,message.received,2026-11-01T12:00:00Z,c1,," + "x" * 140_000 + "\n",
        "a3,message.received,2026-11-01T12:00:00Z,c1,,caf\xe9\n",
        "a4,message.received,2026-11-01T12:00:00Z,c1,,ok\n",
    ]
    path.write_bytes(header.encode() + "".join(rows).encode("latin-1"))
    with open_events(path) as stream:
        read = list(read_lines(stream, "csv"))
    assert [(line.number, line.error) for line in read] == [
        (2, None),
        (3, "not valid CSV: field larger than field limit (131072)"),
        (4, "not valid UTF-8 (\\xe9)"),
        (5, None),
    ]
    assert read[3].raw["attributes"] == {"text": "ok"}
