"""`makegood text`: analyse customers' texts offline, and train a head on a business's own.

    makegood text analyze [--tier lexicon|embedding] [--model HEAD] [--policy FILE] < texts
    makegood text train LABELLED.csv [--out HEAD] [--policy FILE]
    makegood text train --from-store [--db URL] [--out HEAD] [--policy FILE]

`analyze` reads one text per line (``--format text``), or JSON Lines with a ``text`` field (an
``id`` field is echoed back; ``--format jsonl``), and writes one JSON result per input line, in
order. By default (``auto``) the input is JSON Lines only when its first line is a JSON object
with a string ``text``: a tweet that starts with ``{`` is still a text. A bad JSON line gets
``{"line": N, "error": ...}`` in its place and a message on stderr; the exit code is then 1.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import chain, islice
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from makegood.domain.errors import MakegoodError

app = typer.Typer(help="Understand what customers write, offline.", no_args_is_help=True)
BATCH = 512
NOT_INSTALLED = 3  # `train --from-store`: the new head was no better, nothing was written
FORMATS = ("auto", "text", "jsonl")

PolicyOption = Annotated[
    Path | None,
    typer.Option("--policy", help="Policy YAML whose `text:` section extends the defaults."),
]


@app.command()
def analyze(
    tier: Annotated[str, typer.Option(help="lexicon (default, base install) or embedding.")] = (
        "lexicon"
    ),
    model: Annotated[
        Path | None, typer.Option("--model", help="Trained head file (embedding tier).")
    ] = None,
    policy: PolicyOption = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="text (one text a line), jsonl (objects with `text`), or auto: jsonl when "
            "the first line is such an object.",
        ),
    ] = "auto",
) -> None:
    """Analyse texts from stdin, one JSON result per line on stdout."""
    from makegood.adapters.text.factory import build_analyzer

    if fmt not in FORMATS:
        typer.echo(f"error: --format must be one of {', '.join(FORMATS)}", err=True)
        raise typer.Exit(2)

    try:
        analyzer = build_analyzer(tier, _rules(policy), model)
    except MakegoodError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    failed = False
    out = sys.stdout
    lines = _numbered(sys.stdin)
    first = next(lines, None)
    if first is None:
        return
    jsonl = fmt == "jsonl" or (fmt == "auto" and isinstance(_parse(first[1]), dict))
    lines = chain([first], lines)
    while batch := list(islice(lines, BATCH)):
        texts: list[str] = []
        parsed: list[tuple[int, dict[str, Any] | str]] = []
        for number, line in batch:
            item = _parse(line) if jsonl else {"text": line}
            parsed.append((number, item))
            if isinstance(item, dict):
                texts.append(item["text"])
        results = iter(analyzer.analyze_many(texts))
        for number, item in parsed:
            if isinstance(item, str):
                failed = True
                typer.echo(f"line {number}: {item}", err=True)
                out.write(json.dumps({"line": number, "error": item}) + "\n")
                continue
            result = next(results).to_dict()
            if "id" in item:
                result = {"id": item["id"], **result}
            out.write(json.dumps(result, ensure_ascii=False) + "\n")
        out.flush()
    if failed:
        raise typer.Exit(1)


@app.command()
def train(
    labelled: Annotated[
        Path | None,
        typer.Argument(
            help="CSV with `text` and `category` and/or `sentiment` (negative/neutral/positive)."
        ),
    ] = None,
    from_store: Annotated[
        bool,
        typer.Option(
            "--from-store",
            help="Learn from the store's outcomes: messages labelled by the ratings that "
            "followed and the failures they raised; install only when better on a held-out part.",
        ),
    ] = False,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            "--database-url",
            help="With --from-store: database URL or SQLite file "
            "(default: $MAKEGOOD_DATABASE_URL or ./makegood.db)",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Where to write the head (default: the policy's text.head, else text_head.npz)."
        ),
    ] = None,
    policy: PolicyOption = None,
) -> None:
    """Fit a small linear head on labelled messages (embedding tier), from a CSV or from the
    store's outcomes (``--from-store``); point the policy's ``text.head`` at the file."""
    if from_store == (labelled is not None):
        typer.echo("error: give either a labelled CSV or --from-store", err=True)
        raise typer.Exit(2)
    try:
        from makegood.adapters.text.head import train_head_from_csv
    except ImportError as exc:
        typer.echo(
            f"error: training needs the 'text' extra: pip install 'makegood[text]' ({exc})",
            err=True,
        )
        raise typer.Exit(2) from None
    if from_store or labelled is None:
        raise typer.Exit(_train_from_store(db, out, policy))
    try:
        rules = _rules(policy)
        report = train_head_from_csv(labelled, out or _default_out(rules), rules)
    except (MakegoodError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(report)


def _train_from_store(db: str | None, out: Path | None, policy_file: Path | None) -> int:
    """Train from the store; 0 when installed, 3 when judged no better (nothing written)."""
    from makegood.adapters.policy_file import load_policy
    from makegood.adapters.text.rules import rules_of_policy
    from makegood.adapters.text.training import train_from_store
    from makegood.entrypoints.cli_common import open_store, settings

    config = settings(db)
    path = policy_file or config.policy
    try:
        compiled = load_policy(path)
        rules = rules_of_policy(compiled.policy.text, path)
    except MakegoodError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    store = open_store(config)
    try:
        result = train_from_store(
            store.engine, compiled, rules, out or _default_out(rules), datetime.now(UTC)
        )
    except (MakegoodError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        return 1
    finally:
        store.dispose()
    typer.echo(result.summary())
    return 0 if result.installed else NOT_INSTALLED


def _default_out(rules: Any) -> Path:
    return Path(rules.head) if rules.head else Path("text_head.npz")


def _rules(policy: Path | None) -> Any:
    from makegood.adapters.text.rules import load_default_rules, load_rules

    return load_rules(policy) if policy else load_default_rules()


def _numbered(stream: TextIO) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(stream, start=1):
        yield number, line.rstrip("\r\n")


def _parse(line: str) -> dict[str, Any] | str:
    """The item of one JSON line, or the reason it is bad; a blank line is an empty text."""
    if not line.strip():
        return {"text": ""}
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        return f"not valid JSON: {exc.msg} (column {exc.colno})"
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        return "a JSON line needs a string `text` field"
    return item


if __name__ == "__main__":
    app()
