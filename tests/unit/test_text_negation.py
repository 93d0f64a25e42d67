"""Negation and Portuguese phrasing in the categories and cues, on small texts written here
(en and pt): a negated failure is no evidence, "não recebi" / "não chegou" / "nunca chegou"
name their failure, cues are read in both languages."""

from __future__ import annotations

import pytest

from makegood.adapters.text.lexicon import LexiconAnalyzer
from makegood.adapters.text.pattern import negated
from makegood.adapters.text.rules import load_default_rules
from makegood.domain.text import fold


@pytest.fixture(scope="module")
def lexicon() -> LexiconAnalyzer:
    return LexiconAnalyzer(load_default_rules())


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("meu pedido não chegou", "late_delivery"),
        ("ainda não chegou nada", "late_delivery"),
        ("o pedido não foi entregue", "late_delivery"),
        ("não recebi meu pedido", "missing_item"),
        ("Não recebi o lanche", "missing_item"),
        ("o pedido nunca chegou", "missing_item"),
        ("my package has not arrived", "late_delivery"),
        ("my order didn't arrive", "late_delivery"),
        ("I did not receive my order", "missing_item"),
        ("I never got my parcel", "missing_item"),
        ("the driver was rude and my order is an hour late", "late_delivery"),
        ("o entregador foi grosso comigo", "rude_agent"),
    ],
)
def test_phrasings_name_their_failure(lexicon: LexiconAnalyzer, text: str, category: str) -> None:
    result = lexicon.analyze(text)
    assert result.category == category, result
    assert result.label == "negative"


@pytest.mark.parametrize(
    "text",
    [
        "my order was not late at all",
        "there was no delay this time",
        "nothing was broken, thanks",
        "the box wasn't damaged",
        "o pedido não atrasou",
        "chegou sem atraso, obrigado",
        "nada veio quebrado",
    ],
)
def test_a_negated_failure_is_no_category(lexicon: LexiconAnalyzer, text: str) -> None:
    assert lexicon.analyze(text).category is None
    evidence = lexicon.evidence(text)
    assert evidence.hits == {}
    assert evidence.negated == 1
    # a denied failure is no complaint: the score is pushed up, never down
    assert evidence.sentiment == min(1.0, evidence.lexicon + 0.25)


def test_only_the_two_words_before_in_the_same_clause_negate() -> None:
    def at(text: str, word: str) -> bool:
        folded = fold(text)
        return negated(folded, folded.index(word))

    assert at("it was not late", "late")
    assert at("não atrasou", "atrasou")
    assert not at("I can't believe how late it is", "late")  # three words before
    assert not at("no, it is late", "late")  # another clause
    assert not at("no worries. it is late", "late")


def test_a_pattern_holding_its_own_negation_still_counts(lexicon: LexiconAnalyzer) -> None:
    assert lexicon.analyze("they never responded to my email").category == "no_response"
    assert lexicon.analyze("ninguém responde no suporte").category in (
        "no_response",
        "unhelpful_support",
    )


@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("cancel my account now", "churn_threat"),
        ("vou cancelar minha conta", "churn_threat"),
        ("I will call my lawyer", "legal_threat"),
        ("vou no procon", "legal_threat"),
        ("this is ridiculous", "anger"),
        ("que absurdo", "anger"),
        ("third time this happens", "repeated_failure"),
        ("de novo atrasado", "repeated_failure"),
        ("I need it today, urgent", "urgency"),
    ],
)
def test_cues_in_both_languages(lexicon: LexiconAnalyzer, text: str, cue: str) -> None:
    assert lexicon.analyze(text).cues[cue] is True


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("still no refund after two weeks", "refund_policy"),
        ("até agora nenhum reembolso", "refund_policy"),
        ("sem resposta até agora", "no_response"),
    ],
)
def test_a_category_named_by_what_was_not_given_is_not_negated(
    lexicon: LexiconAnalyzer, text: str, category: str
) -> None:
    assert lexicon.analyze(text).category == category


def test_negatable_is_a_policy_key_checked_like_the_others() -> None:
    from makegood.domain.errors import PolicyError
    from makegood.domain.text import text_rules_from_mapping

    spec = {"failure_type": "process", "patterns": {"en": ["late"]}}
    rules = text_rules_from_mapping({"categories": {"slow": {**spec, "negatable": False}}})
    assert rules.category("slow").negatable is False
    assert text_rules_from_mapping({"categories": {"slow": spec}}).category("slow").negatable
    with pytest.raises(PolicyError) as raised:
        text_rules_from_mapping({"categories": {"slow": {**spec, "negatable": "no"}}})
    assert raised.value.path == "text.categories.slow.negatable"
