"""Policies: the shipped one passes; a broken one names the line and the problem."""

from __future__ import annotations

import pytest

from makegood.adapters.policy_file import default_policy_text, load_policy, parse_policy
from makegood.domain.errors import PolicyError

SHIPPED = default_policy_text()


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def broken(old: str, new: str) -> tuple[str, int]:
    assert old in SHIPPED
    text = SHIPPED.replace(old, new, 1)
    return text, line_of(text, new.splitlines()[0].strip() or new)


def test_the_shipped_policy_is_valid():
    policy = load_policy()
    assert {d.name for d in policy.detectors} >= {
        "late_delivery",
        "very_late_delivery",
        "damaged_item",
        "repeat_failure",
    }
    late = next(d for d in policy.detectors if d.name == "late_delivery")
    assert late.spec.on == "order.placed"  # `on:` is a key, not YAML 1.1's True


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "deadline: attributes.promised_at + 60m",
            "deadline: attributes.promised_at + + 60m",
            "expected an operand",
        ),
        (
            "severity: critical}",
            "severity: huge}",
            "Input should be 'minor', 'major' or 'critical'",
        ),
        ("after: 2h", "after: soon", "not a duration: 'soon'"),
        (
            'when: type == "order.cancelled"',
            'when: kind == "order.cancelled"',
            "unknown name 'kind'",
        ),
        ("  per_case: 60", "  per_case: sixty", "valid decimal"),
        ("  auto: 15", "  auto: 150", "empowerment limits must rise"),
    ],
)
def test_a_broken_policy_names_the_line_and_the_problem(old, new, message):
    text, line = broken(old, new)
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "p.yaml")
    assert message in str(caught.value)
    assert caught.value.line == line


def test_unknown_keys_are_refused():
    text, _ = broken("  global_per_day: 15000", "  global_per_day: 15000\n  per_hour: 5")
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    assert "budgets.per_hour" in str(caught.value)
    assert caught.value.line == line_of(text, "per_hour")


def test_yaml_syntax_errors_have_a_line():
    with pytest.raises(PolicyError) as caught:
        parse_policy("detectors: [\n  {name: x\nplaybooks: []\n")
    assert caught.value.line is not None
    assert "not valid YAML" in str(caught.value)
