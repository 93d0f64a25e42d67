"""Training pairs from outcomes: what a business's own records say each message meant.

Pure: the store's rows come in (`adapters/sql/text_training.py` reads them), labelled messages
go out. A message is labelled by what followed it:

- its mood by the customer's first rating (a survey answer or a review) within
  ``text.training.within`` after it: ``negative`` (unhappy) at or below the policy's threshold
  (``follow_up.reopen_at_or_below`` on a 1-5 scale, the same share of any other scale),
  ``positive`` at or above the scale's ``satisfied_at``, ``neutral`` in between;
- its category by the failure it raised, when that category is not just the text analysis
  read back (a person acted on the case, or the detector set the category itself).

Which messages are held out to judge a new head is decided by a hash of the message id, so a
retraining on a grown store keeps the same messages aside.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

CSAT_LOW, CSAT_HIGH = 1, 5


@dataclass(frozen=True)
class Message:
    id: str
    customer_id: str
    at: datetime
    text: str
    locale: str | None = None  # what is known of the writer's language


@dataclass(frozen=True)
class Outcome:
    """A rating a customer gave: `score` on a scale from `low` to `high`."""

    customer_id: str
    at: datetime
    score: float
    low: int
    high: int
    satisfied_at: int


@dataclass(frozen=True)
class RaisedFailure:
    """A failure detected from a message (``evidence.event_id``) and how its category came."""

    message_id: str
    category: str
    read_from_text: bool  # the category is the one the text analysis gave
    confirmed: bool  # a person acted on its case


@dataclass(frozen=True)
class Pair:
    message: Message
    mood: str | None  # negative / neutral / positive, or None when no rating followed
    category: str | None


def unhappy_at_or_below(outcome: Outcome, reopen_at_or_below: int) -> float:
    """The score at or below which a rating on `outcome`'s scale is unhappy: the policy's
    threshold on a 1-5 scale, the same share of the range on any other."""
    share = (reopen_at_or_below - CSAT_LOW) / (CSAT_HIGH - CSAT_LOW)
    return outcome.low + share * (outcome.high - outcome.low)


def mood_of(outcome: Outcome, reopen_at_or_below: int) -> str:
    if outcome.score <= unhappy_at_or_below(outcome, reopen_at_or_below):
        return "negative"
    if outcome.score >= outcome.satisfied_at:
        return "positive"
    return "neutral"


def training_pairs(
    messages: Iterable[Message],
    outcomes: Iterable[Outcome],
    failures: Iterable[RaisedFailure],
    *,
    within: timedelta,
    reopen_at_or_below: int,
) -> list[Pair]:
    """Every message that something labels, in the order given."""
    by_customer: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_customer[outcome.customer_id].append(outcome)
    times: dict[str, list[datetime]] = {}
    for customer, listed in by_customer.items():
        listed.sort(key=lambda o: o.at)
        times[customer] = [o.at for o in listed]
    categories = _categories(failures)
    pairs = []
    for message in messages:
        if not message.text.strip():
            continue
        mood = None
        listed = by_customer.get(message.customer_id, [])
        i = bisect_left(times.get(message.customer_id, []), message.at)
        if i < len(listed) and listed[i].at - message.at <= within:
            mood = mood_of(listed[i], reopen_at_or_below)
        category = categories.get(message.id)
        if mood or category:
            pairs.append(Pair(message, mood, category))
    return pairs


def _categories(failures: Iterable[RaisedFailure]) -> dict[str, str]:
    """message id -> the category a person or a detector gave it (a person's word first)."""
    found: dict[str, tuple[bool, str]] = {}
    for f in failures:
        if f.read_from_text and not f.confirmed:
            continue  # the analysis's own reading, read back: nothing to learn from
        if f.message_id not in found or (f.confirmed and not found[f.message_id][0]):
            found[f.message_id] = (f.confirmed, f.category)
    return {message_id: category for message_id, (_, category) in found.items()}


def held_out(message_id: str, share: float) -> bool:
    """Whether a message is kept aside for judging: a stable hash of its id under `share`."""
    digest = hashlib.sha256(message_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def split(pairs: Sequence[Pair], share: float) -> tuple[list[Pair], list[Pair]]:
    """(training part, held-out part)."""
    train: list[Pair] = []
    held: list[Pair] = []
    for pair in pairs:
        (held if held_out(pair.message.id, share) else train).append(pair)
    return train, held


def labelled_counts(pairs: Iterable[Pair]) -> Mapping[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for pair in pairs:
        counts["texts"] += 1
        counts["with_mood"] += pair.mood is not None
        counts["with_category"] += pair.category is not None
    return dict(counts)
