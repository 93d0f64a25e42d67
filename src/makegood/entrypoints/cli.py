"""`makegood`: the command line. Translates input, calls the service layer, prints."""

from __future__ import annotations

import os

import typer

from makegood.bootstrap import tune_process
from makegood.entrypoints import (
    cli_demo,
    cli_export,
    cli_outbox,
    cli_policy,
    cli_report,
    cli_serve,
    cli_source,
    cli_store,
    cli_template,
    cli_worker,
)

app = typer.Typer(
    name="makegood",
    help="Service recovery engine: detect failures, make good within budget, learn what works.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("demo")(cli_demo.demo)
app.command("ingest")(cli_store.ingest)
app.command("cases")(cli_store.cases)
app.command("case")(cli_store.case)
app.command("incidents")(cli_store.incidents)
app.command("incident")(cli_store.incident)
app.command("summary")(cli_store.summary)
app.command("migrate")(cli_store.migrate)
app.command("dispatch")(cli_store.dispatch)
app.command("outbox")(cli_outbox.outbox)
app.command("export")(cli_export.export)
app.command("serve")(cli_serve.serve)
app.command("worker")(cli_worker.worker)
app.command("partitions")(cli_worker.partitions)
app.command("report")(cli_report.report)
app.command("replay")(cli_report.replay)
app.add_typer(cli_policy.app, name="policy")
app.add_typer(cli_template.app, name="template")
app.add_typer(cli_source.app, name="source")
app.add_typer(cli_serve.token_app, name="token")


def _mount_optional() -> None:
    try:
        from makegood.entrypoints.cli_text import app as text_app
    except ImportError:  # pragma: no cover
        return
    app.add_typer(text_app, name="text")


_mount_optional()


def main() -> None:
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    tune_process()
    app()
