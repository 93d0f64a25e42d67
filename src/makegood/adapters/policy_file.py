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
from makegood.domain.policy import Policy, PolicyErrors
from makegood.domain.rules import CompiledPolicy, compile_policy
from makegood.domain.vocabulary import policy_warnings

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


MAX_BYTES = 1024 * 1024  # a policy is a page or two of YAML; a megabyte is no policy
MAX_DEPTH = 50  # the deepest shipped entry is 6 levels down
MAX_NODES = 200_000  # values after expanding aliases: an anchor bomb expands to billions


def _bounded_node(text: str, source: str) -> yaml.Node | None:
    """Compose the YAML once its size, nesting and alias expansion are known to be sane, so a
    hostile file is refused in milliseconds instead of taking gigabytes or the stack."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise PolicyError(f"larger than {MAX_BYTES // 1024} KB: not a policy", source, None)
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):  # a state machine: no recursion
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark else None
                raise PolicyError(f"nested deeper than {MAX_DEPTH} levels", source, line)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    node = yaml.compose(text, Loader=_Loader)
    if node is not None:
        _expanded_size(node, {}, set(), source)
    return node


def _expanded_size(node: yaml.Node, sizes: dict[int, int], open_: set[int], source: str) -> int:
    """How many values `node` stands for with every alias expanded, counted once per node."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_:
        raise PolicyError("an alias refers to itself", source, node.start_mark.line + 1)
    open_.add(key)
    size = 1
    if isinstance(node, yaml.MappingNode):
        children = [child for pair in node.value for child in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    else:
        children = []
    for child in children:
        size += _expanded_size(child, sizes, open_, source)
        if size > MAX_NODES:
            raise PolicyError(
                f"expands to more than {MAX_NODES:,} values (aliases of aliases?)",
                source,
                node.start_mark.line + 1,
            )
    open_.discard(key)
    sizes[key] = size
    return size


def _read(text: str, source: str) -> tuple[CompiledPolicy, dict[Path_, int]]:
    try:
        node = _bounded_node(text, source)
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
        problems = []
        for found in error.errors():
            loc = tuple(p for p in found["loc"] if not (isinstance(p, str) and p[:1].isupper()))
            problems.append(PolicyError(found["msg"], _dotted(loc), _line_of(loc, lines)))
        raise _in_file_order(problems) from None
    site = site_problem(policy.business.survey_base_url)
    if site:
        loc = ("business", "survey_base_url")
        raise PolicyError(f"survey_base_url {site}", _dotted(loc), _line_of(loc, lines))
    try:
        return compile_policy(policy), lines
    except PolicyErrors as error:
        raise _in_file_order([_located(p, lines) for p in error.problems]) from None


def _located(error: PolicyError, lines: Mapping[Path_, int]) -> PolicyError:
    return PolicyError(error.message, error.path, _line_of(_parse_dotted(error.path), lines))


def _in_file_order(problems: list[PolicyError]) -> PolicyErrors:
    return PolicyErrors(sorted(problems, key=lambda p: p.line or 0))


def parse_policy(text: str, source: str = "<policy>") -> CompiledPolicy:
    """Parse and compile a policy. Raises `PolicyErrors`: every problem, each with its line
    and path (it reads as the first)."""
    return _read(text, source)[0]


def check_policy(text: str, source: str = "<policy>") -> tuple[CompiledPolicy, list[PolicyError]]:
    """`parse_policy`, and the warnings (names no event type declares), each with its line."""
    policy, lines = _read(text, source)
    return policy, [_located(w, lines) for w in policy_warnings(policy)]


def load_policy(path: Path | None = None) -> CompiledPolicy:
    """The policy in `path`, or the default food-delivery policy shipped with makegood."""
    if path is None:
        return parse_policy(default_policy_text(), DEFAULT_POLICY)
    return parse_policy(read_policy_text(path), str(path))


def read_policy_text(path: Path) -> str:
    """A policy file's text; refused unread beyond `MAX_BYTES`, or when it is not UTF-8."""
    with Path(path).open("rb") as file:
        raw = file.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise PolicyError(f"larger than {MAX_BYTES // 1024} KB: not a policy", str(path))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PolicyError(f"not UTF-8 text (byte {error.start})", str(path)) from None


def default_policy_text() -> str:
    return resources.files("makegood.policies").joinpath(DEFAULT_POLICY).read_text("utf-8")


def policy_mapping(text: str) -> Any:
    _bounded_node(text, "<policy>")
    return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
