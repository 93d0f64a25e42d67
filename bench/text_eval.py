"""Evaluate makegood's text analysis on public data and measure its speed.

    .venv/bin/python bench/text_eval.py [--data ../shared/data] [--write docs/TEXT.md]

Reads the data described in ../shared/data/README.md (never shipped with makegood):
- TweetEval sentiment, validation split: 3-class macro-averaged recall and accuracy;
- airline tweets: complaint (negative) ROC AUC, precision and recall at the operating threshold
  (the policy's ``negative_below``), and macro recall over the complaint reasons that map onto
  makegood categories.
Rows: VADER alone (the reference), the lexicon tier, the embedding tier zero-shot, and the
embedding tier with a trained head, evaluated by 5-fold cross-validation only (each text is
scored by a head that never saw it). Throughput is texts per CPU-second of one process (numpy
on one thread: one core's work whatever else runs), with texts per wall-clock second beside it.
Last, the time the lexicon tier takes for one 1 MB message (`--long-only`: that alone, no data).
"""

from __future__ import annotations

import os

# One core: the throughput column is per core, and numpy must not spread over the machine.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LABELS = ("negative", "neutral", "positive")
# The airline data's complaint reasons, mapped onto makegood categories (here only). "Bad
# Flight", "longlines" and "Can't Tell" have no makegood counterpart and are left out.
REASONS = {
    "Late Flight": "late_delivery",
    "Cancelled Flight": "cancelled_order",
    "Lost Luggage": "missing_item",
    "Damaged Luggage": "damaged_item",
    "Customer Service Issue": "unhelpful_support",
    "Flight Attendant Complaints": "rude_agent",
    "Flight Booking Problems": "app_outage",
}
FOLDS = 5
SPEED_TEXTS = 2000
EMBEDDING_SPEED_TEXTS = 256


@dataclass
class Data:
    tweet_texts: list[str]
    tweet_labels: list[str]
    air_texts: list[str]
    air_labels: list[str]
    air_categories: list[str | None]  # the mapped reason of a negative tweet, else None


@dataclass
class Row:
    name: str
    macro_recall: float
    accuracy: float
    auc: float
    precision: float
    recall: float
    reason_recall: float | None
    per_second: Speed | None
    missing: float | None = None  # share of airline complaints given no category


def load(data_dir: Path) -> Data:
    tweets = data_dir / "tweeteval_sentiment"
    mapping = dict(
        line.split("\t") for line in (tweets / "mapping.txt").read_text().splitlines() if line
    )
    texts = (tweets / "val_text.txt").read_text("utf-8").splitlines()
    labels = [mapping[n] for n in (tweets / "val_labels.txt").read_text().split()]
    with (data_dir / "airline_tweets" / "train.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return Data(
        tweet_texts=texts,
        tweet_labels=labels,
        air_texts=[r["text"] for r in rows],
        air_labels=[r["sentiment"] for r in rows],
        air_categories=[
            REASONS.get(r["negativereason"]) if r["sentiment"] == "negative" else None for r in rows
        ],
    )


# -- metrics ---------------------------------------------------------------------------------


def macro_recall(truth: Sequence[str], predicted: Sequence[str], classes: Sequence[str]) -> float:
    recalls = []
    for c in classes:
        idx = [i for i, t in enumerate(truth) if t == c]
        if idx:
            recalls.append(sum(predicted[i] == c for i in idx) / len(idx))
    return sum(recalls) / len(recalls)


def accuracy(truth: Sequence[str], predicted: Sequence[str]) -> float:
    return sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth)


def roc_auc(positive: Sequence[bool], score: Sequence[float]) -> float:
    """Mann-Whitney U with average ranks for ties."""
    order = sorted(range(len(score)), key=lambda i: score[i])
    ranks = [0.0] * len(score)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and score[order[j + 1]] == score[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    n_pos = sum(positive)
    n_neg = len(positive) - n_pos
    rank_sum = sum(r for r, p in zip(ranks, positive, strict=True) if p)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def precision_recall(positive: Sequence[bool], flagged: Sequence[bool]) -> tuple[float, float]:
    tp = sum(p and f for p, f in zip(positive, flagged, strict=True))
    return tp / max(1, sum(flagged)), tp / max(1, sum(positive))


def reason_recall(truth: Sequence[str | None], predicted: Sequence[str | None]) -> float:
    pairs = [(t, p) for t, p in zip(truth, predicted, strict=True) if t is not None]
    classes = sorted({t for t, _ in pairs})
    return macro_recall([t for t, _ in pairs], [p or "" for _, p in pairs], classes)


# -- systems ---------------------------------------------------------------------------------


@dataclass
class Output:
    """What a system says about each text: label, a sentiment score, a category."""

    labels: list[str]
    scores: list[float]
    categories: list[str | None] | None


def row(name: str, data: Data, tweets: Output, air: Output, speed: Speed | None) -> Row:
    complaint = [label == "negative" for label in data.air_labels]
    precision, recall = precision_recall(complaint, [x == "negative" for x in air.labels])
    return Row(
        name=name,
        macro_recall=macro_recall(data.tweet_labels, tweets.labels, LABELS),
        accuracy=accuracy(data.tweet_labels, tweets.labels),
        auc=roc_auc(complaint, [-s for s in air.scores]),
        precision=precision,
        recall=recall,
        reason_recall=None
        if air.categories is None
        else reason_recall(data.air_categories, air.categories),
        per_second=speed,
        missing=None
        if air.categories is None
        else sum(c is None for c, x in zip(air.categories, complaint, strict=True) if x)
        / max(1, sum(complaint)),
    )


@dataclass(frozen=True)
class Speed:
    """Texts per CPU-second of this process (what one core does, whatever else the machine
    runs) and per wall-clock second, over the first texts, best of three runs."""

    cpu: float
    wall: float

    def __str__(self) -> str:
        return f"{self.cpu:,.0f} ({self.wall:,.0f} wall)"


def per_second(
    analyze_many: Callable[[list[str]], Any], texts: list[str], count: int = SPEED_TEXTS
) -> Speed:
    """Throughput over the first `count` texts, best of three runs, in this process (numpy
    on one thread, so CPU time is one core's)."""
    sample = texts[:count]
    analyze_many(sample[:50])  # warm up
    cpu = wall = float("inf")
    for _ in range(3):
        start, start_cpu = time.perf_counter(), time.process_time()
        analyze_many(sample)
        cpu = min(cpu, time.process_time() - start_cpu)
        wall = min(wall, time.perf_counter() - start)
    return Speed(len(sample) / cpu, len(sample) / wall)


def vader_row(data: Data) -> Row:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()

    def run(texts: list[str]) -> Output:
        scores = [vader.polarity_scores(t)["compound"] for t in texts]
        labels = [
            "negative" if s <= -0.05 else "positive" if s >= 0.05 else "neutral" for s in scores
        ]
        return Output(labels, scores, None)

    speed = per_second(lambda ts: [vader.polarity_scores(t) for t in ts], data.air_texts)
    return row("VADER alone (reference)", data, run(data.tweet_texts), run(data.air_texts), speed)


def analyzer_output(results: Sequence[Any]) -> Output:
    return Output(
        [a.label for a in results], [a.sentiment for a in results], [a.category for a in results]
    )


def lexicon_row(data: Data, rules: Any) -> Row:
    from makegood.adapters.text.lexicon import LexiconAnalyzer

    analyzer = LexiconAnalyzer(rules)
    return row(
        "lexicon tier (default)",
        data,
        analyzer_output(analyzer.analyze_many(data.tweet_texts)),
        analyzer_output(analyzer.analyze_many(data.air_texts)),
        per_second(analyzer.analyze_many, data.air_texts),
    )


def long_message(rules: Any, size: int = 1_000_000) -> str:
    """One `size`-character message through the lexicon tier: its time, best of three, and how
    much of it the lexicons were given (makegood reads a bounded excerpt)."""
    from makegood.adapters.text.lexicon import LexiconAnalyzer, default_lexicons

    given: list[int] = []

    class Measured:
        def __init__(self, lexicon: Any) -> None:
            self.lexicon = lexicon

        def polarity_scores(self, text: str) -> Any:
            given.append(len(text))
            return self.lexicon.polarity_scores(text)

    lexicons = {k: Measured(v) for k, v in default_lexicons().items()}
    analyzer = LexiconAnalyzer(rules, lexicons=lexicons)
    filler = "terrible service, the food was cold and awful but the driver was kind of nice. "
    text = ("cancel my account. " + filler * (size // len(filler) + 1))[:size]
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        analyzer.analyze(text)
        best = min(best, time.process_time() - start)
    return (
        f"a {len(text):,}-character message: {best * 1000:.0f} ms of CPU in the lexicon tier "
        f"(the lexicons read at most {max(given):,} characters of it)"
    )


def long_message_embedding(rules: Any, size: int = 1_000_000) -> str:
    """The same `size`-character message through the combined tier (MiniLM reads at most 256
    tokens of the excerpt): its CPU time, best of three."""
    try:
        from makegood.adapters.text.embedding import EmbeddingAnalyzer
    except ImportError as exc:
        return f"embedding tier not measured: {exc}"
    analyzer = EmbeddingAnalyzer(rules)
    filler = "the bag never arrived and the agent on the phone hung up on me twice. "
    text = (filler * (size // len(filler) + 1))[:size]
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        analyzer.analyze(text)
        best = min(best, time.process_time() - start)
    return f"a {len(text):,}-character message: {best * 1000:.0f} ms of CPU in the combined tier"


def cached_embed(analyzer: Any, texts: list[str], cache: Path | None) -> Any:
    """Embeddings, kept in `cache` between runs (they depend only on the texts)."""
    import hashlib

    import numpy as np

    if cache is None:
        return analyzer.embed(texts)
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = cache / f"minilm-{key}.npy"
    if path.exists():
        return np.load(path)
    vectors = analyzer.embed(texts)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def embedding_rows(data: Data, rules: Any, cache: Path | None) -> list[Row]:
    try:
        from makegood.adapters.text.embedding import EmbeddingAnalyzer
        from makegood.adapters.text.head import cross_validated_heads
    except ImportError as exc:
        print(f"embedding tier skipped: {exc} (pip install 'makegood[text]')", file=sys.stderr)
        return []
    analyzer = EmbeddingAnalyzer(rules)
    speed = per_second(analyzer.analyze_many, data.air_texts, EMBEDDING_SPEED_TEXTS)
    tweet_vectors = cached_embed(analyzer, data.tweet_texts, cache)
    air_vectors = cached_embed(analyzer, data.air_texts, cache)
    zero_shot = row(
        "combined tier: lexicon + embedding + cues, no training",
        data,
        analyzer_output(analyzer.analyze_embedded(data.tweet_texts, tweet_vectors)),
        analyzer_output(analyzer.analyze_embedded(data.air_texts, air_vectors)),
        speed,
    )
    # Each text is analysed by heads fitted on the other four folds only.
    tweets = cross_validated_heads(
        analyzer, data.tweet_texts, tweet_vectors, data.tweet_labels, None, FOLDS
    )
    air = cross_validated_heads(
        analyzer, data.air_texts, air_vectors, data.air_labels, data.air_categories, FOLDS
    )
    trained = row(
        f"embedding tier, trained head ({FOLDS}-fold CV)",
        data,
        analyzer_output(tweets),
        analyzer_output(air),
        speed,
    )
    return [zero_shot, trained]


# -- a head trained the way `makegood text train --from-store` trains it ---------------------

MOOD_SCORE = {"negative": 1, "neutral": 3, "positive": 5}  # the csat answer that follows


def test_part(i: int) -> bool:
    """The bench's own held-out fifth (the store's training keeps aside its own part of the
    rest, chosen by the message ids)."""
    return i % 5 == 0


def build_store(
    path: Path, prefix: str, texts: list[str], labels: list[str], categories: list[str | None]
) -> Any:
    """A store of the training part: each text a customer's message, followed two days later
    by a CSAT answer that says its label (negative 1, neutral 3, positive 5); each complaint
    with a known reason raised a failure of that category on a case an agent worked."""
    from datetime import UTC, datetime, timedelta

    import sqlalchemy as sa

    from makegood.adapters.sql import schema
    from makegood.bootstrap import bootstrap
    from makegood.config import Settings

    app = bootstrap(Settings(database_url=f"sqlite:///{path}"))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    raws: list[dict[str, Any]] = []
    labelled: list[tuple[str, str, datetime, str]] = []
    for i, (text, label, category) in enumerate(zip(texts, labels, categories, strict=True)):
        if test_part(i):
            continue
        at, customer, message = start + timedelta(minutes=i), f"{prefix}-c{i}", f"{prefix}-{i}"
        raws.append(
            {
                "id": message,
                "type": "message.received",
                "occurred_at": at.isoformat(),
                "customer_id": customer,
                "attributes": {"text": text},
            }
        )
        raws.append(
            {
                "id": f"{message}-csat",
                "type": "survey.answered",
                "occurred_at": (at + timedelta(days=2)).isoformat(),
                "customer_id": customer,
                "attributes": {"kind": "csat", "score": MOOD_SCORE[label]},
            }
        )
        if category:
            labelled.append((message, customer, at, category))
    for start_at in range(0, len(raws), 2000):
        app.engine.ingest(raws[start_at : start_at + 2000])
    with app.store.engine.begin() as connection:
        for message, customer, at, category in labelled:
            case = f"case-{message}"
            connection.execute(
                sa.insert(schema.failures).values(
                    id=f"fail-{message}",
                    key=f"agent:{message}",
                    detector="agent",
                    customer_id=customer,
                    subject_id=None,
                    case_id=case,
                    type="process",
                    category=category,
                    severity="minor",
                    occurred_at=at,
                    detected_at=at,
                    evidence={"event_id": message},
                )
            )
            connection.execute(
                sa.insert(schema.timeline).values(
                    case_id=case, at=at, kind="note", actor="agent-1", data={"text": category}
                )
            )
    return app


def from_store_rows(data: Data, rules: Any, cache: Path | None) -> list[Row]:
    """Train from a store built from the training part of each data set, as
    ``makegood text train --from-store`` does (it holds out its own part and installs the head
    only when it beats the lexicon tier there), then read the test part with what got
    installed."""
    import tempfile
    from dataclasses import replace
    from datetime import UTC, datetime

    import numpy as np

    from makegood.adapters.policy_file import load_policy
    from makegood.adapters.text.embedding import EmbeddingAnalyzer
    from makegood.adapters.text.head import Heads
    from makegood.adapters.text.training import train_from_store

    tweet_vectors = cached_embed(EmbeddingAnalyzer(rules), data.tweet_texts, cache)
    air_vectors = cached_embed(EmbeddingAnalyzer(rules), data.air_texts, cache)
    known = dict(zip(data.tweet_texts, tweet_vectors, strict=True)) | dict(
        zip(data.air_texts, air_vectors, strict=True)
    )

    class Cached(EmbeddingAnalyzer):
        def embed(self, texts: Any) -> Any:
            if all(t in known for t in texts):
                return np.array([known[t] for t in texts], dtype=np.float32)
            return super().embed(texts)

    analyzer = Cached(replace(rules, head=None))
    policy = load_policy(None)
    outputs: dict[str, Output] = {}
    notes = []
    with tempfile.TemporaryDirectory() as directory:
        for name, texts, labels, categories, vectors in (
            ("tweets", data.tweet_texts, data.tweet_labels, [None] * len(data.tweet_texts),
             tweet_vectors),
            ("air", data.air_texts, data.air_labels, data.air_categories, air_vectors),
        ):  # fmt: skip
            app = build_store(Path(directory) / f"{name}.db", name, texts, labels, categories)
            out = Path(directory) / f"{name}.npz"
            result = train_from_store(
                app.store.engine, policy, rules, out, datetime.now(UTC), analyzer
            )
            app.store.dispose()
            notes.append(f"{name}: " + result.summary().replace("\n", "\n    "))
            test = [i for i in range(len(texts)) if test_part(i)]
            heads = Heads.load(out) if out.exists() else None
            read = (
                analyzer.analyze_embedded([texts[i] for i in test], vectors[test], heads)
                if heads
                else analyzer.lexicon.analyze_many([texts[i] for i in test])
            )
            outputs[name] = analyzer_output(read)
    for note in notes:
        print(note, file=sys.stderr)
    test_data = Data(
        tweet_texts=[t for i, t in enumerate(data.tweet_texts) if test_part(i)],
        tweet_labels=[t for i, t in enumerate(data.tweet_labels) if test_part(i)],
        air_texts=[t for i, t in enumerate(data.air_texts) if test_part(i)],
        air_labels=[t for i, t in enumerate(data.air_labels) if test_part(i)],
        air_categories=[t for i, t in enumerate(data.air_categories) if test_part(i)],
    )
    lexicon = analyzer.lexicon
    return [
        row(
            "lexicon tier, on the same 1/5 (reference for the row below)",
            test_data,
            analyzer_output(lexicon.analyze_many(test_data.tweet_texts)),
            analyzer_output(lexicon.analyze_many(test_data.air_texts)),
            None,
        ),
        row(
            "head trained from a store of the other 4/5 (`--from-store`), on the held-out 1/5",
            test_data,
            outputs["tweets"],
            outputs["air"],
            None,
        ),
    ]


# -- report ----------------------------------------------------------------------------------

HEADER = (
    "| system | TweetEval macro recall | TweetEval accuracy | airline complaint AUC "
    "| complaint precision | complaint recall | reason macro recall "
    "| complaints without a category | texts per CPU-second (per wall second) |\n"
    "|---|---|---|---|---|---|---|---|---|"
)
BEGIN, END = "<!-- text_eval:begin -->", "<!-- text_eval:end -->"


def table(rows: Sequence[Row]) -> str:
    lines = [HEADER]
    for r in rows:
        reason = "–" if r.reason_recall is None else f"{r.reason_recall:.3f}"
        speed = "–" if r.per_second is None else str(r.per_second)
        missing = "–" if r.missing is None else f"{r.missing:.1%}"
        lines.append(
            f"| {r.name} | {r.macro_recall:.3f} | {r.accuracy:.3f} | {r.auc:.3f} "
            f"| {r.precision:.3f} | {r.recall:.3f} | {reason} | {missing} | {speed} |"
        )
    return "\n".join(lines)


def write(doc: Path, text: str) -> None:
    current = doc.read_text("utf-8")
    head, _, rest = current.partition(BEGIN)
    _, _, tail = rest.partition(END)
    doc.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}", "utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--write", type=Path, help="replace the table in this Markdown file")
    parser.add_argument("--tier", choices=("all", "lexicon", "embedding", "store"), default="all")
    parser.add_argument("--cache", type=Path, help="keep embeddings here between runs")
    parser.add_argument("--long-only", action="store_true", help="only time a 1 MB message")
    args = parser.parse_args(argv)
    from makegood.adapters.text.rules import load_default_rules

    rules = load_default_rules()
    if args.long_only:
        print(long_message(rules))
        print(long_message_embedding(rules))
        return 0
    data = load(args.data)
    rows = []
    if args.tier in ("all", "lexicon"):
        rows += [vader_row(data), lexicon_row(data, rules)]
    if args.tier in ("all", "embedding"):
        rows += embedding_rows(data, rules, args.cache)
    if args.tier in ("all", "store"):
        rows += from_store_rows(data, rules, args.cache)
    text = table(rows)
    print(text)
    print(
        f"\nTweetEval validation: {len(data.tweet_texts)} tweets; airline tweets: "
        f"{len(data.air_texts)} ({sum(x == 'negative' for x in data.air_labels)} complaints, "
        f"{sum(c is not None for c in data.air_categories)} with a mapped reason). "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} cores on this machine."
    )
    print(long_message(rules))
    print(long_message_embedding(rules))
    if args.write:
        write(args.write, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
