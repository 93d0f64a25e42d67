"""What the report says of the text model: which head is installed, when it was trained, on
how many texts, and how it read the held-out part (from the head file's own record)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

DEFAULT_HEAD = Path("text_head.npz")  # where `makegood text train` writes without --out


def head_path(text_section: dict[str, Any] | None, policy_file: Path | None) -> Path:
    """The head the policy points at (relative to its file), else the default `--out`."""
    head = (text_section or {}).get("head")
    if not isinstance(head, str) or not head:
        return DEFAULT_HEAD
    path = Path(head)
    if not path.is_absolute() and policy_file is not None:
        path = policy_file.parent / path
    return path


def text_model(path: Path) -> dict[str, Any]:
    """The report's figures for the head at `path`; ``trained`` is False when there is none."""
    card: dict[str, Any] = {"head": str(path), "trained": False}
    if not path.exists():
        return card
    try:
        from makegood.adapters.text.head import Heads
        from makegood.domain.errors import MakegoodError
    except ImportError:  # the 'text' extra is not installed: the head cannot be read here
        return {**card, "unreadable": "the 'text' extra is not installed"}
    try:
        meta = dict(Heads.load(path).meta)
    except MakegoodError as exc:
        return {**card, "unreadable": str(exc)}
    if not meta:  # trained from a labelled file: no held-out record
        return {**card, "trained": True, "from_store": False}
    scores, current = meta.get("scores", {}), meta.get("current", {})
    return {
        **card,
        "trained": True,
        "from_store": True,
        "trained_at": meta.get("trained_at"),
        "texts": meta.get("texts"),
        "held_out": meta.get("held_out"),
        "languages": meta.get("languages", {}),
        "own_heads": meta.get("own_heads", []),
        "auc": scores.get("auc"),
        "macro_recall": scores.get("macro_recall"),
        "category_recall": scores.get("category_recall"),
        "rated": scores.get("rated"),
        "categorised": scores.get("categorised"),
        "replaced": current.get("tier"),
        "replaced_auc": current.get("auc"),
        "replaced_category_recall": current.get("category_recall"),
    }
