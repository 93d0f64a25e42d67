"""What the report says of the text model: which head is installed, when it was trained, on
how many texts, and how it read the held-out part (from the head file's own record)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from makegood.domain.errors import MakegoodError
from makegood.domain.text import Analysis, TextRules
from makegood.service_layer.text import TextAnalyzer

log = logging.getLogger(__name__)

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


class WatchedHead:
    """`TextAnalyzer` for a policy with ``text.head``: the embedding tier with that head once
    the file exists, the lexicon tier until then. Looked at before every batch, so a head that
    `makegood text train --from-store` (or serve's schedule) installs is read from the next
    batch on, with no restart; the embedding tier reloads a replaced file itself."""

    def __init__(self, rules: TextRules, path: Path, lexicon: TextAnalyzer) -> None:
        self._rules, self._path, self._lexicon = rules, path, lexicon
        self._embedding: TextAnalyzer | None = None
        self._refused: float | None = None  # mtime of a file that could not be used

    def analyze(self, text: str, locale: str | None = None) -> Analysis:
        return self._current().analyze(text, locale)

    def analyze_many(
        self, texts: Sequence[str], locales: Sequence[str | None] | None = None
    ) -> list[Analysis]:
        return self._current().analyze_many(texts, locales)

    def _current(self) -> TextAnalyzer:
        if self._embedding is not None:
            return self._embedding
        try:
            mtime = self._path.stat().st_mtime
        except OSError:
            return self._lexicon
        if mtime == self._refused:
            return self._lexicon
        try:
            from makegood.adapters.text.embedding import EmbeddingAnalyzer

            self._embedding = EmbeddingAnalyzer(replace(self._rules, head=str(self._path)))
        except (ImportError, MakegoodError) as exc:
            self._refused = mtime
            log.warning(
                "text.head %s is not used, the lexicon tier reads texts: %s", self._path, exc
            )
            return self._lexicon
        log.info("text analysis reads with the head at %s", self._path)
        return self._embedding


def installed_head(
    rules: TextRules,
    text_section: dict[str, Any] | None,
    policy_file: Path | None,
    lexicon: TextAnalyzer,
) -> TextAnalyzer:
    """What reads texts for a policy: `WatchedHead` when it names a ``text.head``, else
    `lexicon`."""
    if not (text_section or {}).get("head"):
        return lexicon
    return WatchedHead(rules, head_path(text_section, policy_file), lexicon)


def text_model(path: Path) -> dict[str, Any]:
    """The report's figures for the head at `path`; ``trained`` is False when there is none."""
    card: dict[str, Any] = {"head": str(path), "trained": False}
    if not path.exists():
        return card
    try:
        from makegood.adapters.text.head import Heads
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
