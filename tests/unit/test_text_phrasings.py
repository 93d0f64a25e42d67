"""The shipped rules' phrasings of luggage, booking self-service, crew and phone support
(en and pt), on small texts written here: each names its failure in the lexicon tier, a
negated one names none, and the neutral nouns they are built around ("customer care" aside)
are no complaint on their own."""

from __future__ import annotations

import pytest

from makegood.adapters.text.lexicon import LexiconAnalyzer
from makegood.adapters.text.rules import load_default_rules


@pytest.fixture(scope="module")
def lexicon() -> LexiconAnalyzer:
    return LexiconAnalyzer(load_default_rules())


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("they misplaced my checked bag on the way to Denver", "missing_item"),
        ("where is my luggage? been at the carousel for an hour", "missing_item"),
        ("my suitcase never made it to Lisbon", "missing_item"),
        ("nossa bagagem nunca apareceu", "missing_item"),
        ("cadê minha bagagem?", "missing_item"),
        ("the stroller came back in pieces", "damaged_item"),
        ("you destroyed my guitar case", "damaged_item"),
        ("the flight attendant was dismissive and sarcastic", "rude_agent"),
        ("the gate agent rolled her eyes at me", "rude_agent"),
        ("a comissária foi arrogante com a gente", "rude_agent"),
        ("o motorista me tratou mal", "rude_agent"),
        ("two hours on the phone and nothing solved", "unhelpful_support"),
        ("I can't get through to your call line", "unhelpful_support"),
        ("unable to reach anyone at your office", "unhelpful_support"),
        ("fiquei 40 minutos no telefone e nada", "unhelpful_support"),
        ("o suporte só enrola", "unhelpful_support"),
        ("I can't change my reservation on your site", "app_outage"),
        ("the app won't let me pick a seat", "app_outage"),
        ("my booking disappeared, the confirmation code is invalid", "app_outage"),
        ("não consigo remarcar minha passagem", "app_outage"),
        ("o check-in online deu erro", "app_outage"),
    ],
)
def test_a_phrasing_names_its_failure(lexicon: LexiconAnalyzer, text: str, category: str) -> None:
    result = lexicon.analyze(text)
    assert result.category == category, result
    assert result.sentiment < lexicon.lexicon_score(text, result.language), result


@pytest.mark.parametrize(
    "text",
    [
        "they never misplaced my bag, great airline",
        "the crew was not dismissive at all",
        "the box was not destroyed, thanks",
    ],
)
def test_a_negated_phrasing_names_no_failure(lexicon: LexiconAnalyzer, text: str) -> None:
    evidence = lexicon.evidence(text)
    assert evidence.hits == {} and evidence.negated >= 1, evidence


@pytest.mark.parametrize(
    "text",
    [
        "meet me at baggage claim",
        "what is the number of your hotline?",
        "I checked in online yesterday",
        "qual o telefone dos achados e perdidos?",
        "great attitude from the crew today",
    ],
)
def test_the_words_such_phrasings_use_are_no_complaint_alone(
    lexicon: LexiconAnalyzer, text: str
) -> None:
    assert lexicon.evidence(text).hits == {}
