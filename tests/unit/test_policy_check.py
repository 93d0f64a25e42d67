"""`policy check` reports every problem with its line, warns on names nothing sends (issue 10,
point 15), and the policy loader holds against hostile files (issue 11, point 4)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from makegood.adapters.policy_file import (
    MAX_BYTES,
    check_policy,
    default_policy_text,
    load_policy,
    parse_policy,
)
from makegood.domain.errors import PolicyError
from makegood.domain.policy import PolicyErrors
from makegood.entrypoints import cli_policy

SHIPPED = default_policy_text()
runner = CliRunner()


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def edited(*changes: tuple[str, str]) -> str:
    text = SHIPPED
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(cli_policy.app, name="policy")
    root.command("noop")(lambda: None)
    return root


def check_file(cli: typer.Typer, tmp_path: Path, text: str) -> tuple[int, str]:
    file = tmp_path / "policy.yaml"
    file.write_text(text, encoding="utf-8")
    result = runner.invoke(cli, ["policy", "check", str(file)])
    return result.exit_code, " ".join(result.output.split())


def test_every_problem_is_reported_with_its_line(cli, tmp_path):
    text = edited(
        ("after: 2h", "after: soon"),
        ("  per_case: 60", "  per_case: -60"),
        ("deadline: attributes.promised_at + 60m", "deadline: attributes.promised_at + + 60m"),
    )
    with pytest.raises(PolicyErrors) as caught:
        parse_policy(text, "p.yaml")
    found = [(p.line, p.path) for p in caught.value.problems]
    assert found == [
        (line_of(text, "+ + 60m"), "detectors[1].deadline"),
        (line_of(text, "per_case: -60"), "budgets.per_case"),
        (line_of(text, "after: soon"), "follow_up.after"),
    ]
    code, output = check_file(cli, tmp_path, text)
    assert code == 1
    assert "3 problems" in output
    for needle in ("not a duration: 'soon'", "expected an operand", "zero or more"):
        assert needle in output


def test_shape_errors_are_all_reported_too():
    text = edited(("severity: critical}", "severity: huge}"), ("  auto: 15", "  auto: fifteen"))
    with pytest.raises(PolicyErrors) as caught:
        parse_policy(text)
    assert [p.line for p in caught.value.problems] == [
        line_of(text, "severity: huge}"),
        line_of(text, "auto: fifteen"),
    ]


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("  per_case: 60", "  per_case: -60", "budgets.per_case"),
        ("  global_per_day: 15000", "  global_per_day: -1", "budgets.global_per_day"),
        ("amount: {fixed: 3,", "amount: {fixed: -3,", "incidents[0].amount.fixed"),
        ("{at_least: 15m, amount: 2}", "{at_least: 15m, amount: -2}", "amount.bands[0].amount"),
        ("gold: 1.5, silver: 1.2}\n", "gold: -1.5, silver: 1.2}\n", "tier_multiplier.gold"),
    ],
)
def test_negative_money_is_refused_with_its_line(old, new, path):
    text = edited((old, new))
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    assert path in caught.value.path
    assert caught.value.line == line_of(text, new.strip().splitlines()[0])
    assert "zero or more" in caught.value.message


def test_a_misspelt_attribute_and_an_until_type_nobody_sends_are_warned(cli, tmp_path):
    text = edited(
        (
            "attributes.case_id == null and attributes.score <= 2",
            "attributes.case_id == null and attributes.scor <= 2",
        ),
        ("until: [order.delivered]          #", "until: [order.delivred]          #"),
    )
    _, warnings = check_policy(text)
    by_path = {w.path: w for w in warnings}
    scor = next(w for p, w in by_path.items() if p.endswith(".when"))
    assert "attributes.scor" in scor.message and "attributes.score" in scor.message
    assert scor.line == line_of(text, "attributes.scor ")
    until = by_path["detectors[0].until[0]"]
    assert "order.delivred" in until.message and "order.delivered" in until.message
    assert until.line == line_of(text, "order.delivred")
    code, output = check_file(cli, tmp_path, text)
    assert code == 0  # warnings: the policy still works as written
    assert output.count("warning ") == 2


def test_attributes_and_types_a_policy_declares_are_not_warned():
    text = edited(
        (
            "attributes.case_id == null and",
            "attributes.nps != null and attributes.case_id == null and",
        ),
        ("engine:\n", "events:\n  survey.answered: [nps]\n  loyalty.changed: [tier]\n\nengine:\n"),
    )
    assert check_policy(text)[1] == []
    assert check_policy(SHIPPED)[1] == []


def test_an_old_policy_with_cancelled_under_until_loads_with_a_warning():
    text = edited(
        ("until: [order.delivered]          #", "until: [order.delivered, order.cancelled]  #")
    )
    text = text.replace(
        "    stopped_by: [order.cancelled]     # no arrival: a cancelled order, not a late one\n",
        "",
        1,
    )
    policy, warnings = check_policy(text)
    assert policy.detectors[0].stops == ("order.cancelled",)
    assert [w.path for w in warnings] == ["detectors[0].until[1]"]


# hostile files ------------------------------------------------------------------------------
def test_an_anchor_bomb_is_refused_at_once():
    levels = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    levels += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 10)]
    bomb = "\n".join(levels) + "\ndetectors: *a9\nplaybooks: []\n"
    started = time.perf_counter()
    with pytest.raises(PolicyError) as caught:
        parse_policy(bomb, "bomb.yaml")
    assert time.perf_counter() - started < 2
    assert "expands to more than" in caught.value.message


def test_a_self_referring_alias_is_refused():
    with pytest.raises(PolicyError, match="refers to itself"):
        parse_policy("detectors: &d [*d]\nplaybooks: []\n")


@pytest.mark.parametrize("style", ["flow", "block"])
def test_a_10k_deep_file_is_a_clean_error_with_the_file(tmp_path, style):
    if style == "flow":
        text = "detectors: " + "[" * 10_000 + "]" * 10_000 + "\n"
    else:
        text = "".join(f"{' ' * n}k{n}:\n" for n in range(1_000))  # 10k would be 50 MB
    file = tmp_path / "deep.yaml"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy(file)
    assert "nested deeper than" in str(caught.value)
    assert str(file) in str(caught.value)


def test_a_huge_file_is_refused_unread(tmp_path):
    file = tmp_path / "huge.yaml"
    file.write_bytes(b"# " + b"x" * MAX_BYTES + b"\n")
    with pytest.raises(PolicyError, match="larger than"):
        load_policy(file)


def test_a_file_that_is_not_utf8_is_a_clean_error(tmp_path):
    file = tmp_path / "latin1.yaml"
    file.write_bytes("business: {name: Caf\xe9}\n".encode("latin-1"))
    with pytest.raises(PolicyError, match="not UTF-8"):
        load_policy(file)
