"""The text analysis port: what the engine needs to read a customer's message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from makegood.domain.text import Analysis


class TextAnalyzer(Protocol):
    """Reads customers' texts. Implementations: `makegood.adapters.text.lexicon.LexiconAnalyzer`
    (default, base install) and `makegood.adapters.text.embedding.EmbeddingAnalyzer` (extra
    ``makegood[text]``). Neither touches the network; both are pure functions of their input
    once built, so results can be cached or recomputed in a replay.
    """

    def analyze(self, text: str) -> Analysis: ...

    def analyze_many(self, texts: Sequence[str]) -> list[Analysis]:
        """Same as `analyze` on each text, in order; may batch for speed."""
        ...
