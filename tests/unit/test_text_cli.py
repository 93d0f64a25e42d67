"""`makegood text analyze` through Typer's runner: input forms, alignment, errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from makegood.entrypoints.cli_text import app

runner = CliRunner()


def test_json_lines_give_one_result_per_line_in_order_with_their_ids() -> None:
    stdin = (
        "\n".join(
            [
                json.dumps({"text": "my parcel arrived damaged, I want my money back"}),
                json.dumps({"id": "m-2", "text": "o entregador foi muito grosso"}),
                "",
                json.dumps({"text": "thank you, lovely service"}),
            ]
        )
        + "\n"
    )
    result = runner.invoke(app, ["analyze"], input=stdin)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 4
    assert out[0]["category"] == "damaged_item" and out[0]["label"] == "negative"
    assert out[1]["id"] == "m-2" and out[1]["language"] == "pt"
    assert out[1]["category"] == "rude_agent" and out[1]["failure_type"] == "people"
    assert out[2]["language"] == "und" and out[2]["label"] == "neutral"
    assert out[3]["label"] == "positive"
    assert set(out[0]) == {
        "language",
        "sentiment",
        "label",
        "cues",
        "failure_type",
        "category",
        "category_confidence",
        "type_confidence",
    }


def test_plain_text_starting_with_a_brace_is_a_text_not_bad_json() -> None:
    # a tweet: the first line decides the format, and it is no JSON object with `text`
    stdin = (
        "{New Post} Yolanda Adams sings at the gala\n"
        "my order is late again\n"
        '{"text": "looks like JSON, but this input is plain text"}\n'
    )
    result = runner.invoke(app, ["analyze"], input=stdin)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 3
    assert all("error" not in o for o in out)
    assert out[1]["cues"]["repeated_failure"]


def test_format_text_reads_every_line_as_a_text() -> None:
    stdin = '{"id": "m-1", "text": "late"}\n{oops\n'
    result = runner.invoke(app, ["analyze", "--format", "text"], input=stdin)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 2 and all("id" not in o and "error" not in o for o in out)


def test_an_unknown_format_is_refused() -> None:
    result = runner.invoke(app, ["analyze", "--format", "xml"], input="hi\n")
    assert result.exit_code == 2
    assert "--format must be one of auto, text, jsonl" in result.stderr


def test_a_bad_line_is_reported_by_number_and_the_rest_still_analysed() -> None:
    stdin = '{"text": "fine"}\n{"text": 3}\n{oops\n{"text": "late again"}\nplain\n'
    result = runner.invoke(app, ["analyze", "--format", "jsonl"], input=stdin)
    assert result.exit_code == 1
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o.get("line") for o in out] == [None, 2, 3, None, 5]
    assert "text" in out[1]["error"] and "JSON" in out[2]["error"]
    assert out[3]["cues"]["repeated_failure"]
    assert "line 2:" in result.stderr and "line 3:" in result.stderr


def test_a_policy_adds_a_category_without_dropping_the_defaults(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "text:\n"
        "  categories:\n"
        "    noisy_room:\n"
        "      failure_type: product\n"
        "      patterns:\n"
        "        en: ['\\bnois(y|e)\\b']\n"
    )
    stdin = "the room was so noisy\nmy order is late\n"
    result = runner.invoke(app, ["analyze", "--policy", str(policy)], input=stdin)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["category"] for o in out] == ["noisy_room", "late_delivery"]


def test_a_bad_policy_entry_is_named() -> None:
    result = runner.invoke(app, ["analyze", "--tier", "sparkling"], input="hi\n")
    assert result.exit_code == 2
    assert "unknown tier" in result.stderr


def test_the_lexicon_tier_takes_no_trained_head(tmp_path: Path) -> None:
    result = runner.invoke(app, ["analyze", "--model", str(tmp_path / "h.npz")], input="hi\n")
    assert result.exit_code == 2
    assert "embedding tier" in result.stderr
