"""The text analysis port, and which of a batch's events carry a customer's text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from makegood.domain.event import Event
from makegood.domain.text import Analysis, language_of

TEXT_EVENTS = ("message.received", "survey.answered")
TEXT_FIELDS = ("text", "comment")
LOCALE_FIELDS = ("locale", "language")  # what a sender may say of the writer's language


class TextAnalyzer(Protocol):
    """Reads customers' texts. Implementations: `makegood.adapters.text.lexicon.LexiconAnalyzer`
    (default, base install) and `makegood.adapters.text.embedding.EmbeddingAnalyzer` (extra
    ``makegood[text]``). Neither touches the network; both are pure functions of their input
    once built, so results can be cached or recomputed in a replay. Both read a bounded excerpt
    of a long text (`makegood.domain.text.excerpt`).
    """

    def analyze(self, text: str, locale: str | None = None) -> Analysis:
        """`locale`: what is known of the writer's language, a prior for the detector."""
        ...

    def analyze_many(
        self, texts: Sequence[str], locales: Sequence[str | None] | None = None
    ) -> list[Analysis]:
        """Same as `analyze` on each text (with its locale), in order; may batch for speed."""
        ...


def known_locale(event: Event, profile_locale: str | None) -> str | None:
    """The writer's language as far as it is known without reading the text: the event's own
    ``locale`` (or ``language``) attribute, else the customer's profile (empty when unknown)."""
    for name in LOCALE_FIELDS:
        language = language_of(event.attributes.get(name))
        if language:
            return language
    return language_of(profile_locale)


def analyze_events(
    analyzer: TextAnalyzer, events: Sequence[Event], profile_locales: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """The analysis (as a policy expression sees it) of each event carrying a text, by event id.

    `profile_locales`: customer id -> the profile's locale before the batch; a profile update
    earlier in the batch counts from there on.
    """
    profiles = dict(profile_locales)
    texts: list[tuple[str, str, str | None]] = []
    for event in events:
        if event.type == "customer.upserted" and language_of(event.attributes.get("locale")):
            profiles[event.customer_id] = str(event.attributes["locale"])  # earlier in the batch
        if event.type not in TEXT_EVENTS:
            continue
        text = next((event.attributes[f] for f in TEXT_FIELDS if event.attributes.get(f)), None)
        if text:
            locale = known_locale(event, profiles.get(event.customer_id))
            texts.append((event.id, str(text), locale))
    if not texts:
        return {}
    results = analyzer.analyze_many([t for _, t, _ in texts], [k for _, _, k in texts])
    return {
        event_id: result.as_context()
        for (event_id, _, _), result in zip(texts, results, strict=True)
    }
