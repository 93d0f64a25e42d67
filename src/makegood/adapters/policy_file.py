"""Reading a policy from YAML: shape checked by pydantic against the domain's dataclasses,
expressions compiled by the domain, and every error mapped back to its line in the file."""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from makegood.adapters.survey_link import site_problem
from makegood.domain.errors import PolicyError
from makegood.domain.policy import Policy
from makegood.domain.rules import CompiledPolicy, compile_policy

DEFAULT_POLICY = "food_delivery.yaml"
_ADAPTER = TypeAdapter(Policy)
Path_ = tuple[str | int, ...]


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans only: `on:` is a key, not True (the "Norway problem")."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def _lines(node: yaml.Node, path: Path_, into: dict[Path_, int]) -> None:
    into[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            into[(*path, str(key.value))] = key.start_mark.line + 1
            _lines(value, (*path, str(key.value)), into)
            into[(*path, str(key.value))] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _lines(item, (*path, index), into)


def _line_of(path: Path_, lines: Mapping[Path_, int]) -> int | None:
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def _parse_dotted(path: str) -> Path_:
    parts: list[str | int] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        parts.append(int(index) if index else name)
    return tuple(parts)


def _dotted(loc: Path_) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def parse_policy(text: str, source: str = "<policy>") -> CompiledPolicy:
    """Parse and compile a policy; a `PolicyError` names the line, the path and the problem."""
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise PolicyError(
            f"not valid YAML: {getattr(error, 'problem', error)}", source, line
        ) from None
    if not isinstance(data, dict) or node is None:
        raise PolicyError("a policy is a YAML mapping (detectors:, playbooks:, …)", source, 1)
    lines: dict[Path_, int] = {}
    _lines(node, (), lines)
    try:
        policy = _ADAPTER.validate_python(data)
    except ValidationError as error:
        first = error.errors()[0]
        loc = tuple(p for p in first["loc"] if not (isinstance(p, str) and p[:1].isupper()))
        raise PolicyError(first["msg"], _dotted(loc), _line_of(loc, lines)) from None
    site = site_problem(policy.business.survey_base_url)
    if site:
        loc = ("business", "survey_base_url")
        raise PolicyError(f"survey_base_url {site}", _dotted(loc), _line_of(loc, lines))
    try:
        return compile_policy(policy)
    except PolicyError as error:
        error.line = _line_of(_parse_dotted(error.path), lines)
        raise PolicyError(error.message, error.path, error.line) from None


def load_policy(path: Path | None = None) -> CompiledPolicy:
    """The policy in `path`, or the default food-delivery policy shipped with makegood."""
    if path is None:
        return parse_policy(default_policy_text(), DEFAULT_POLICY)
    return parse_policy(Path(path).read_text(encoding="utf-8"), str(path))


def default_policy_text() -> str:
    return resources.files("makegood.policies").joinpath(DEFAULT_POLICY).read_text("utf-8")


def policy_mapping(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
