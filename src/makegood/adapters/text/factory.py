"""Build a `TextAnalyzer` by tier name: the one place that knows both tiers."""

from __future__ import annotations

from pathlib import Path

from makegood.domain.errors import MakegoodError
from makegood.domain.text import TextRules
from makegood.service_layer.text import TextAnalyzer

TIERS = ("lexicon", "embedding")


class TierUnavailable(MakegoodError):
    """The embedding tier was asked for without its extra (``pip install makegood[text]``)."""


def build_analyzer(tier: str, rules: TextRules, head: Path | None = None) -> TextAnalyzer:
    """The analyzer of `tier`; `head` (a trained head file) overrides the rules' ``head``."""
    if tier == "lexicon":
        if head is not None:
            raise MakegoodError("a trained head (--model) needs the embedding tier")
        from makegood.adapters.text.lexicon import LexiconAnalyzer

        return LexiconAnalyzer(rules)
    if tier == "embedding":
        try:
            from makegood.adapters.text.embedding import EmbeddingAnalyzer

            return EmbeddingAnalyzer(rules, head_path=head)
        except ImportError as exc:
            raise TierUnavailable(
                f"the embedding tier needs the 'text' extra: pip install 'makegood[text]' ({exc})"
            ) from None
    raise MakegoodError(f"unknown tier {tier!r}; expected one of {', '.join(TIERS)}")
