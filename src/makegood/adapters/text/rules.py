"""Load text rules: the defaults shipped in ``makegood/policies/text.yaml``, or a policy file's."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from makegood.domain.errors import PolicyError
from makegood.domain.text import TextRules, text_rules_from_mapping


def default_rules_mapping() -> dict[str, Any]:
    """The shipped ``text:`` section as a mapping, for a policy to extend."""
    source = resources.files("makegood.policies").joinpath("text.yaml").read_text("utf-8")
    data = yaml.safe_load(source)
    if not isinstance(data, dict):
        raise PolicyError("the shipped text rules are not a mapping", path="text")
    return data


def load_default_rules() -> TextRules:
    return text_rules_from_mapping(default_rules_mapping())


def merge_with_defaults(section: dict[str, Any]) -> dict[str, Any]:
    """A policy's ``text:`` section laid over the shipped defaults.

    A category or cue named in the policy replaces the default one of that name; others are
    kept, so a business adds its own category without repeating ours. ``sentiment`` keys
    override one by one.
    """
    merged = default_rules_mapping()
    for key in ("cues", "categories", "sentiment"):
        value = section.get(key)
        if isinstance(value, dict):
            merged[key] = {**merged.get(key, {}), **value}
        elif value is not None:
            merged[key] = value  # let validation name the bad type
    for key, value in section.items():
        if key not in ("cues", "categories", "sentiment"):
            merged[key] = value
    return merged


def load_rules(path: Path) -> TextRules:
    """Rules from a YAML file (a whole policy or its ``text:`` section) over the defaults."""
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise PolicyError(
            f"not valid YAML: {exc}", line=None if line is None else line + 1
        ) from None
    if isinstance(data, dict) and "text" in data:
        data = data["text"]
    if not isinstance(data, dict):
        raise PolicyError("must be a mapping", path="text")
    head = data.get("head")
    if isinstance(head, str) and not Path(head).is_absolute():
        # A head path in a policy file is relative to that file, not to where makegood runs.
        data = {**data, "head": str((path.parent / head).resolve())}
    return text_rules_from_mapping(merge_with_defaults(data))


def rules_of_policy(section: dict[str, Any] | None, path: Path | None) -> TextRules:
    """The text rules of a loaded policy (its ``text:`` section over the defaults); a relative
    ``head`` is relative to the policy file `path`."""
    if not section:
        return load_default_rules()
    head = section.get("head")
    if isinstance(head, str) and path is not None and not Path(head).is_absolute():
        section = {**section, "head": str((path.parent / head).resolve())}
    return text_rules_from_mapping(merge_with_defaults(section))
