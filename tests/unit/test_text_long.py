"""A 1 MB message is read in bounded time: only its first and last characters are analysed.

Issue 11, point 2: vaderSentiment's idiom check is quadratic in the text's length (105k
characters took 5 s), so one `message.received` with 1 MB of text froze the server.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from makegood.adapters.text.lexicon import LexiconAnalyzer, default_lexicons
from makegood.adapters.text.rules import load_default_rules
from makegood.domain.text import EXCERPT_HEAD, EXCERPT_TAIL, MAX_ANALYSED, excerpt

MB = 1_000_000
FILLER = "the parcel tracking page shows nothing useful and I keep refreshing it. "


class RecordingLexicon:
    """A real lexicon that remembers the length of every text it was given."""

    def __init__(self, lexicon) -> None:
        self.lexicon = lexicon
        self.sizes: list[int] = []

    def polarity_scores(self, text: str) -> Mapping[str, float]:
        self.sizes.append(len(text))
        if len(text) > MAX_ANALYSED:  # minutes in the real lexicon: the test's assertion says it
            return {"compound": 0.0}
        return self.lexicon.polarity_scores(text)


@pytest.fixture(scope="module")
def recorded() -> tuple[LexiconAnalyzer, dict[str, RecordingLexicon]]:
    lexicons = {k: RecordingLexicon(v) for k, v in default_lexicons().items()}
    return LexiconAnalyzer(load_default_rules(), lexicons=lexicons), lexicons


def long_text(start: str, end: str) -> str:
    middle = FILLER * (MB // len(FILLER) + 1)
    return start + " " + middle[: MB - len(start) - len(end) - 2] + " " + end


def test_a_short_text_is_read_whole() -> None:
    text = "x" * MAX_ANALYSED
    assert excerpt(text) is text


def test_a_long_text_is_read_by_its_head_and_tail() -> None:
    text = "a" * EXCERPT_HEAD + "b" * 10 + "c" * EXCERPT_TAIL
    cut = excerpt(text)
    assert len(cut) == MAX_ANALYSED
    assert cut.startswith("a" * EXCERPT_HEAD) and cut.endswith("c" * EXCERPT_TAIL)
    assert "b" not in cut


@pytest.mark.parametrize(
    ("start", "end", "language"),
    [
        ("My order is two hours late.", "Cancel my account, I am switching.", "en"),
        ("Meu pedido está duas horas atrasado.", "Vou cancelar minha conta.", "en"),
    ],
    ids=["english", "portuguese ends"],
)
def test_a_1_mb_message_reaches_the_lexicon_bounded(recorded, start, end, language) -> None:
    analyzer, lexicons = recorded
    for lexicon in lexicons.values():
        lexicon.sizes.clear()
    text = long_text(start, end)
    assert len(text) == MB
    result = analyzer.analyze(text)
    sizes = [n for lexicon in lexicons.values() for n in lexicon.sizes]
    assert sizes and max(sizes) <= MAX_ANALYSED
    # what the customer said at the end still counts
    assert result.cues["churn_threat"]
    assert result.language == language  # the English filler dominates the head


def test_many_long_messages_each_reach_the_lexicon_bounded(recorded) -> None:
    analyzer, lexicons = recorded
    lexicons["en"].sizes.clear()
    texts = [long_text("late again", "refund please") for _ in range(3)]
    assert len(analyzer.analyze_many(texts, ["en", None, "pt"])) == 3
    assert lexicons["en"].sizes and max(lexicons["en"].sizes) <= MAX_ANALYSED
