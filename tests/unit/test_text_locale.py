"""The customer's known language guides the reading of short texts, and the reply's language.

Issue 10, points 21 and 22: short Portuguese texts were read as Spanish, Hungarian or English
and scored with the wrong lexicon; and a customer with no profile who wrote in Portuguese was
answered in English.
"""

from __future__ import annotations

from typing import Any

import pytest

from helpers import T0, ev, minutes
from makegood.adapters.text.language import LanguageDetector
from makegood.adapters.text.lexicon import LexiconAnalyzer
from makegood.adapters.text.rules import load_default_rules
from makegood.domain.event import parse_event
from makegood.domain.text import language_of
from makegood.service_layer.text import analyze_events
from makegood.testing import InMemoryStore

# Said by a person as a complaint; fastText reads it as Spanish (0.75), so the English lexicon
# scored it 0.0 (neutral) and no failure was detected.
SHORT_PT = "fui mal atendido"
RUDE_PT = "o entregador foi muito grosso comigo hoje, péssimo atendimento"


@pytest.fixture(scope="module")
def analyzer() -> LexiconAnalyzer:
    return LexiconAnalyzer(load_default_rules())


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector()


def test_locales_name_their_language() -> None:
    assert [language_of(x) for x in ("pt_BR", "pt-BR", "PT", "en", "", "und", None, "x")] == [
        "pt",
        "pt",
        "pt",
        "en",
        None,
        None,
        None,
        None,
    ]


def test_without_a_prior_the_detector_misreads_short_portuguese(detector) -> None:
    # the reason for the prior: fastText alone is wrong and fairly sure of it
    assert detector.detect(SHORT_PT)[0] == "es"
    assert detector.detect("lanche amassado")[0] == "en"


@pytest.mark.parametrize("text", [SHORT_PT, "lanche amassado", "péssimo", "que absurdo"])
def test_the_known_language_decides_when_the_detector_is_unsure(detector, text) -> None:
    assert detector.detect(text, "pt")[0] == "pt"


def test_a_confident_detection_overrules_the_known_language(detector) -> None:
    language, confidence = detector.detect("my order arrived cold and the drink was missing", "pt")
    assert (language, confidence >= 0.9) == ("en", True)


def test_a_short_text_is_scored_with_the_lexicon_of_the_known_language(analyzer) -> None:
    unknown = analyzer.analyze(SHORT_PT)
    known = analyzer.analyze(SHORT_PT, "pt_BR")
    assert (unknown.language, unknown.label) == ("es", "neutral")
    assert (known.language, known.label) == ("pt", "negative")


def _event(raw: dict[str, Any]) -> Any:
    return parse_event(raw)


def test_the_event_locale_comes_before_the_profile(analyzer) -> None:
    events = [
        _event(ev("a", "message.received", T0, "c1", text=SHORT_PT, locale="pt")),
        _event(ev("b", "message.received", T0, "c2", text=SHORT_PT)),
        _event(ev("c", "message.received", T0, "c3", text=SHORT_PT)),
        _event(ev("d", "order.placed", T0, "c3", "o1", promised_at=T0)),
    ]
    found = analyze_events(analyzer, events, {"c1": "en", "c2": "pt_BR", "c3": ""})
    assert {k: v["language"] for k, v in found.items()} == {"a": "pt", "b": "pt", "c": "es"}


@pytest.mark.parametrize("batches", [1, 2], ids=["same batch", "profile stored before"])
def test_a_portuguese_customer_s_short_complaint_is_detected(
    make_engine, analyzer, batches
) -> None:
    store = InMemoryStore()
    engine = make_engine(store, analyzer=analyzer)
    events = [
        ev("u", "customer.upserted", T0, "c1", name="Ana", locale="pt_BR"),
        ev("m", "message.received", T0 + minutes(1), "c1", text=SHORT_PT),
    ]
    for part in [events] if batches == 1 else [events[:1], events[1:]]:
        engine.ingest(part)
    (failure,) = store.state.failures.values()
    assert failure.detector == "unhappy_message"
    assert failure.evidence["analysis"]["language"] == "pt"


def _replies(store: InMemoryStore, customer: str) -> set[str]:
    return {m.locale for m in store.state.outbox.values() if m.customer_id == customer}


def test_a_customer_without_a_profile_is_answered_in_the_language_they_wrote(
    make_engine, analyzer
) -> None:
    store = InMemoryStore()
    engine = make_engine(store, analyzer=analyzer)
    engine.ingest([ev("m", "message.received", T0, "c9", text=RUDE_PT)])
    assert store.state.cases, "the complaint opens a case"
    assert _replies(store, "c9") == {"pt"}
    assert store.state.customers["c9"].locale == "pt"
    # what they wrote is remembered: the next failure's messages are in Portuguese too
    engine.ingest(
        [ev("p", "order.placed", T0 + minutes(5), "c9", "o7", promised_at=T0 + minutes(20))]
    )
    engine.clock.set(T0 + minutes(60))  # type: ignore[attr-defined]
    engine.tick()
    assert len({m.key for m in store.state.outbox.values()}) > 1
    assert _replies(store, "c9") == {"pt"}


def test_a_profile_s_locale_is_kept_whatever_the_customer_writes(make_engine, analyzer) -> None:
    store = InMemoryStore()
    engine = make_engine(store, analyzer=analyzer)
    engine.ingest(
        [
            ev("u", "customer.upserted", T0, "c1", name="Ann", locale="en"),
            ev("m", "message.received", T0 + minutes(1), "c1", text=RUDE_PT),
        ]
    )
    assert _replies(store, "c1") == {"en"}
    assert store.state.customers["c1"].locale == "en"
