"""`makegood template list|preview`, `makegood policy check --templates DIR` and
`makegood outbox`, through Typer's runner, mounted as `entrypoints/cli.py` mounts them."""

from __future__ import annotations

import json
from datetime import timedelta
from importlib.resources import as_file, files
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from helpers import T0
from makegood.adapters.sql.store import SqlStore
from makegood.adapters.templates import DEFAULT_TEMPLATE_DIR, TemplateRenderer
from makegood.domain.message import OutboxMessage
from makegood.domain.policy import Budgets
from makegood.domain.world import Changes, Snapshot
from makegood.entrypoints import cli_outbox, cli_policy, cli_template
from makegood.entrypoints.cli_policy import SAMPLE

runner = CliRunner()


@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(cli_policy.app, name="policy")
    root.add_typer(cli_template.app, name="template")
    root.command("outbox")(cli_outbox.outbox)
    return root


def one_line(text: str) -> str:
    return " ".join(text.split())


# template preview and list ---------------------------------------------------------------------
def test_preview_prints_the_portuguese_apology(cli: typer.Typer) -> None:
    result = runner.invoke(cli, ["template", "preview", "apology", "--locale", "pt"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Subject: Pedimos desculpas pelo pedido o-1"
    assert lines[1] == ""
    assert "Olá, Ana," in lines
    assert (
        "Aqui está um cupom de 5,00 €: MG-7KQ4-X9PW-2MDT (válido até 31 de dezembro de 2026)."
        in lines
    )


def test_preview_as_json_names_the_locale_used_and_carries_the_html(cli: typer.Typer) -> None:
    result = runner.invoke(cli, ["template", "preview", "apology", "--locale", "pt_BR", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert (shown["name"], shown["locale"]) == ("apology", "pt")
    assert shown["subject"] == "Pedimos desculpas pelo pedido o-1"
    assert "<strong>Aqui está um cupom" in shown["html"]
    html = runner.invoke(cli, ["template", "preview", "apology", "--html"])
    assert html.exit_code == 0 and "<p>" in html.stdout


def test_preview_of_an_unknown_template_fails_with_the_places_looked(cli: typer.Typer) -> None:
    result = runner.invoke(cli, ["template", "preview", "nonesuch", "--locale", "pt"])
    assert result.exit_code == 1
    assert "template 'nonesuch' (pt): not found" in one_line(result.output)


def test_list_shows_every_shipped_template_and_its_locales(cli: typer.Typer) -> None:
    result = runner.invoke(cli, ["template", "list", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown == TemplateRenderer([DEFAULT_TEMPLATE_DIR]).templates()
    assert shown["apology"] == ["en", "pt"] and "_common" not in shown
    table = runner.invoke(cli, ["template", "list"])
    assert "apology  en, pt" in table.stdout


@pytest.mark.parametrize("locale", ["en", "pt"])
@pytest.mark.parametrize("name", sorted(TemplateRenderer([DEFAULT_TEMPLATE_DIR]).templates()))
def test_every_shipped_template_previews_in_every_locale(
    cli: typer.Typer, name: str, locale: str
) -> None:
    result = runner.invoke(cli, ["template", "preview", name, "--locale", locale, "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["locale"] == locale
    assert shown["subject"].strip() and shown["text"].strip()
    # nothing the templates read is missing from the sample, in any branch
    renderer = TemplateRenderer([DEFAULT_TEMPLATE_DIR])
    assert renderer.unknown_variables([name], [locale], cli_template.sample_context(locale)) == []


def test_the_incident_notice_preview_names_the_area(cli: typer.Typer) -> None:
    result = runner.invoke(cli, ["template", "preview", "incident_resolved", "--locale", "pt"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "Subject: As entregas em Centro voltaram ao normal"


# policy check with a business's templates ------------------------------------------------------
def shipped_policy() -> Path:
    with as_file(files("makegood.policies") / "food_delivery.yaml") as path:
        return Path(path)


def write(root: Path, locale: str, name: str, subject: str, text: str) -> None:
    (root / locale).mkdir(parents=True, exist_ok=True)
    (root / locale / f"{name}.subject.txt").write_text(subject, encoding="utf-8")
    (root / locale / f"{name}.txt").write_text(text, encoding="utf-8")


def test_policy_check_names_the_template_and_the_unknown_variable(
    cli: typer.Typer, tmp_path: Path
) -> None:
    write(tmp_path, "pt", "apology", "Desculpe", "Olá {{ customer.name }}\nCupom: {{ voucher }}")
    result = runner.invoke(
        cli, ["policy", "check", str(shipped_policy()), "--templates", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert (
        "template 'apology' (pt): unknown variable 'voucher' (pt/apology.txt, line 2)"
        in one_line(result.output)
    )


def test_an_unknown_variable_in_a_branch_the_sample_does_not_take_is_found(
    cli: typer.Typer, tmp_path: Path
) -> None:
    write(
        tmp_path,
        "en",
        "acknowledge",
        "We are on it",
        '{% if compensation and compensation.kind == "credit" %}{{ credit_balance }}{% endif %}',
    )
    result = runner.invoke(
        cli, ["policy", "check", str(shipped_policy()), "--templates", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert (
        "template 'acknowledge' (en): unknown variable 'credit_balance' "
        "(en/acknowledge.txt, line 1)" in one_line(result.output)
    )


def test_policy_check_accepts_good_templates_of_a_business(
    cli: typer.Typer, tmp_path: Path
) -> None:
    write(
        tmp_path,
        "en",
        "apology",
        "Sorry, {{ customer.name }}",
        "{{ business.name }} is sorry.{% if compensation %} {{ compensation.code }}{% endif %}",
    )
    result = runner.invoke(
        cli, ["policy", "check", str(shipped_policy()), "--templates", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "templates acknowledge, apology, compensation" in one_line(result.stdout)


def test_unknown_variables_ignore_macro_arguments_and_jinja_globals(tmp_path: Path) -> None:
    write(
        tmp_path,
        "en",
        "fine",
        "x",
        '{% from "en/_m.jinja" import line %}{% set n = 3 %}{% for i in range(n) %}'
        "{{ line(i) }}{{ loop.index }}{% endfor %}{{ case.id }}",
    )
    (tmp_path / "en" / "_m.jinja").write_text("{% macro line(v) %}{{ v }}{% endmacro %}")
    renderer = TemplateRenderer([tmp_path])
    assert renderer.unknown_variables(["fine", "absent"], ["en", "pt"], SAMPLE) == []
    assert renderer.check(["fine"], ["en"], SAMPLE) == []


# outbox ----------------------------------------------------------------------------------------
def test_outbox_lists_messages_by_status_without_recipients(
    cli: typer.Typer, tmp_path: Path
) -> None:
    db = tmp_path / "mg.db"
    store = SqlStore(f"sqlite:///{db}")
    store.migrate()
    messages = [
        OutboxMessage(
            f"m{n}",
            f"k{n}",
            "case-1",
            "c1",
            "email",
            "apology",
            "en",
            "ana@example.com",
            {"x": n},
            T0 + timedelta(seconds=n),
        )
        for n in range(3)
    ]
    with store.session() as session:
        session.save(Changes(outbox=messages), Snapshot(), Budgets())
    store.mark_sent("m0", T0, "accepted")
    store.mark_failed("m1", T0, "smtp 550 recipient refused: <ana@example.com> unknown", None)
    store.dispose()

    result = runner.invoke(cli, ["outbox", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["id"], r["status"], r["attempts"]) for r in rows] == [
        ("m2", "pending", 0),
        ("m1", "dead", 1),
        ("m0", "sent", 1),
    ]
    assert "ana@example.com" not in result.stdout
    assert rows[1]["last_error"] == "smtp 550 recipient refused: <<address>> unknown"

    dead = runner.invoke(cli, ["outbox", "--db", str(db), "--status", "dead"])
    assert dead.exit_code == 0, dead.output
    assert dead.stdout.splitlines() == [
        "m1  dead    email    apology        tries=1  case=case-1",
        "    smtp 550 recipient refused: <<address>> unknown",
    ]
    bad = runner.invoke(cli, ["outbox", "--db", str(db), "--status", "lost"])
    assert bad.exit_code == 1 and "--status must be one of pending, sent, dead" in bad.output
