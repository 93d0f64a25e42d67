"""The default tier on hand-written English and Portuguese messages (none from any data set)."""

from __future__ import annotations

import pytest

from makegood.adapters.text.lexicon import LexiconAnalyzer
from makegood.adapters.text.rules import load_default_rules
from makegood.domain.text import CUES


@pytest.fixture(scope="module")
def analyzer() -> LexiconAnalyzer:
    return LexiconAnalyzer(load_default_rules())


def test_the_issue_example_in_english(analyzer: LexiconAnalyzer) -> None:
    a = analyzer.analyze(
        "third time my order is an hour late, this is ridiculous, cancel my account"
    )
    assert a.language == "en"
    assert a.label == "negative" and a.sentiment <= -0.5
    assert a.cues["anger"] and a.cues["churn_threat"] and a.cues["repeated_failure"]
    assert not a.cues["legal_threat"] and not a.cues["profanity"]
    assert (a.category, a.failure_type) == ("late_delivery", "process")
    assert 0 < a.category_confidence <= 1 and 0 < a.type_confidence <= 1


def test_the_issue_example_in_portuguese(analyzer: LexiconAnalyzer) -> None:
    a = analyzer.analyze("o pedido chegou quebrado, péssimo")
    assert a.language == "pt"
    assert a.label == "negative"
    assert (a.category, a.failure_type) == ("damaged_item", "product")


CUE_EXAMPLES = {
    "anger": [
        "I am so angry right now, this is unacceptable",
        "estou revoltada com esse descaso",
    ],
    "urgency": [
        "please fix this immediately, I need it tonight",
        "preciso disso urgente, por favor",
    ],
    "churn_threat": [
        "I'm switching to another shop and closing my account, please close my account",
        "vou cancelar minha assinatura e nunca mais compro com vocês",
    ],
    "legal_threat": [
        "my lawyer will hear about this",
        "vou abrir uma reclamação no Procon",
    ],
    "profanity": [
        "what the fuck happened to my parcel",
        "que merda de serviço",
    ],
    "repeated_failure": [
        "this has happened three times this month",
        "de novo o mesmo problema",
    ],
}


@pytest.mark.parametrize(
    ("cue", "text"), [(cue, text) for cue, texts in CUE_EXAMPLES.items() for text in texts]
)
def test_each_cue_is_found_in_english_and_portuguese(
    analyzer: LexiconAnalyzer, cue: str, text: str
) -> None:
    assert analyzer.analyze(text).cues[cue], text


def test_a_calm_message_raises_no_cue(analyzer: LexiconAnalyzer) -> None:
    for text in ("could you tell me your opening hours?", "qual o horário de funcionamento?"):
        assert not any(analyzer.analyze(text).cues.values()), text
    assert set(analyzer.analyze("hello").cues) == set(CUES)


CATEGORY_EXAMPLES = {
    "late_delivery": (
        "process",
        "still waiting, my pizza is 50 minutes late",
        "meu pedido está muito atrasado",
    ),
    "missing_item": (
        "process",
        "the fries were missing from my bag",
        "veio sem o refrigerante que eu paguei",
    ),
    "damaged_item": ("product", "the vase came smashed to pieces", "a tela chegou trincada"),
    "wrong_item": ("process", "you sent me the wrong size", "recebi o tamanho errado"),
    "cancelled_order": (
        "process",
        "my booking got cancelled with no explanation",
        "o restaurante cancelou e meu pedido foi cancelado",
    ),
    "rude_agent": (
        "people",
        "the courier was rude and slammed the door",
        "o motoboy foi grosso comigo",
    ),
    "unhelpful_support": (
        "people",
        "I was on hold for 40 minutes and nobody could help",
        "o atendimento não resolveu meu problema",
    ),
    "billing_error": (
        "policy",
        "I was double charged on my card",
        "fui cobrado duas vezes no cartão",
    ),
    "refund_policy": (
        "policy",
        "they still haven't given me a refund",
        "até agora nenhum reembolso",
    ),
    "no_response": (
        "communication",
        "I wrote to you twice and got no reply",
        "mandei três e-mails e ninguém responde",
    ),
    "misinformation": (
        "communication",
        "the tracking page said delivered but you lied",
        "me disseram que chegaria hoje e era mentira",
    ),
    "app_outage": (
        "product",
        "the app keeps crashing at checkout",
        "o aplicativo travou na hora do pagamento",
    ),
    "food_quality": ("product", "my burger was raw inside", "a comida chegou fria e sem gosto"),
}


@pytest.mark.parametrize(
    ("category", "failure_type", "text"),
    [(c, t, text) for c, (t, *texts) in CATEGORY_EXAMPLES.items() for text in texts],
)
def test_each_category_and_its_type_in_english_and_portuguese(
    analyzer: LexiconAnalyzer, category: str, failure_type: str, text: str
) -> None:
    a = analyzer.analyze(text)
    assert (a.category, a.failure_type) == (category, failure_type), text
    assert a.label == "negative", text


def test_every_failure_type_is_covered_by_the_examples() -> None:
    assert {t for t, *_ in CATEGORY_EXAMPLES.values()} == {
        "process",
        "people",
        "product",
        "policy",
        "communication",
    }


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("The delivery was quick and the driver was lovely, thank you", "en"),
        ("A entrega foi rápida e o entregador muito simpático, obrigado", "pt"),
        ("La entrega fue rápida y el repartidor muy amable, gracias", "es"),
        ("Die Lieferung war schnell und der Fahrer sehr freundlich", "de"),
        ("👍", "und"),
        ("", "und"),
    ],
)
def test_language(analyzer: LexiconAnalyzer, text: str, language: str) -> None:
    assert analyzer.analyze(text).language == language


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Great service, the food was delicious!", "positive"),
        ("Adorei, chegou rápido e a comida estava ótima", "positive"),
        ("Which store is closest to the station?", "neutral"),
        ("Qual loja fica mais perto da estação?", "neutral"),
        ("terrible experience, never again", "negative"),
        ("experiência horrível", "negative"),
    ],
)
def test_sentiment_label(analyzer: LexiconAnalyzer, text: str, label: str) -> None:
    a = analyzer.analyze(text)
    assert a.label == label, a
    assert -1 <= a.sentiment <= 1


def test_a_complaint_without_negative_words_still_reads_negative(
    analyzer: LexiconAnalyzer,
) -> None:
    # No lexicon word here is negative; naming the failure is what makes it a complaint.
    a = analyzer.analyze("my order has not arrived yet")
    assert a.category == "late_delivery"
    assert a.label == "negative"


def test_analyze_many_is_analyze_on_each(analyzer: LexiconAnalyzer) -> None:
    texts = ["late again!!!", "obrigado pela ajuda", "ok"]
    assert analyzer.analyze_many(texts) == [analyzer.analyze(t) for t in texts]


@pytest.mark.parametrize(
    "text",
    [
        "not bad at all",
        "never so good",
        "this isn't great",
        "without doubt the best",
        "I don't love it but it's fine",
        "kind of nice",
        "never this happy",
        "NOT GOOD!!!",
        "The food was good, but the delivery was terrible.",
        "nobody helped me, awful",
        "it's not that the driver wasn't nice",
        "great 😀 service",
        "least helpful agent",
        "",
        "   padded   ",
    ],
)
def test_the_fast_vader_scores_exactly_as_vader(text: str) -> None:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from makegood.adapters.text.lexicon import _vader

    assert _vader().polarity_scores(text) == SentimentIntensityAnalyzer().polarity_scores(text)
