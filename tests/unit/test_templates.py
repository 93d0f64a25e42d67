"""Templates: locale fallback, strict variables, HTML-only autoescape, `check()`, shipped set."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from makegood.adapters.templates import (
    DEFAULT_TEMPLATE_DIR,
    TemplateError,
    TemplateRenderer,
    locale_chain,
)
from makegood.domain.message import OutboxMessage

SHIPPED = ["acknowledge", "apology", "compensation", "escalated", "survey", "resolved"]


def write(root: Path, locale: str, name: str, subject: str, text: str, html: str | None = None):
    folder = root / locale
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.subject.txt").write_text(subject, encoding="utf-8")
    (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    if html is not None:
        (folder / f"{name}.html").write_text(html, encoding="utf-8")


def full_context(**changes: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "customer": {"name": "Ana", "locale": "pt_BR", "tier": "gold"},
        "case": {"id": "case-7", "category": "late_delivery", "severity": "major"},
        "failure": {
            "category": "late_delivery",
            "type": "process",
            "severity": "major",
            "lateness_minutes": 25,
            "evidence": {"promised_at": "2025-03-01T12:00:00+00:00"},
        },
        "order": {"id": "A-1001", "value": "42.50", "currency": "BRL"},
        "compensation": {
            "kind": "voucher",
            "amount": "10.00",
            "currency": "BRL",
            "code": "MG-7KQ4-X9PW-2MDT",
            "expires_at": "2025-04-01T00:00:00+00:00",
        },
        "survey_url": "https://shop.test/s/tok123",
        "business": {"name": "Comida Já", "support_email": "ajuda@comida.test"},
    }
    context.update(changes)
    return context


def test_locale_chain_goes_from_region_to_language_to_default() -> None:
    assert locale_chain("pt-BR") == ["pt_BR", "pt", "en"]
    assert locale_chain("pt_br") == ["pt_BR", "pt", "en"]
    assert locale_chain("en") == ["en"]
    assert locale_chain("de", default="pt") == ["de", "pt"]
    assert locale_chain("../etc") == ["en"]


def test_fallback_pt_br_to_pt_to_en(tmp_path: Path) -> None:
    write(tmp_path, "en", "hello", "Hello", "Hello {{ name }}")
    write(tmp_path, "pt", "hello", "Olá", "Olá {{ name }}")
    write(tmp_path, "en", "bye", "Bye", "Bye {{ name }}")
    write(tmp_path, "pt_BR", "special", "Especial", "Só no Brasil")
    renderer = TemplateRenderer([tmp_path])
    assert renderer.preview("hello", "pt_BR", {"name": "Ana"}).text == "Olá Ana\n"
    assert renderer.preview("hello", "pt-PT", {"name": "Ana"}).subject == "Olá"
    assert renderer.preview("bye", "pt_BR", {"name": "Ana"}).text == "Bye Ana\n"
    assert renderer.preview("special", "pt_BR", {}).text == "Só no Brasil\n"
    assert renderer.resolve_locale("special", "pt") is None
    with pytest.raises(TemplateError, match=r"not found \(looked for pt/special.txt, en/"):
        renderer.preview("special", "pt", {})


def test_earlier_directories_override_later_ones(tmp_path: Path) -> None:
    write(tmp_path, "en", "apology", "Our own subject", "Our own text")
    renderer = TemplateRenderer([tmp_path, DEFAULT_TEMPLATE_DIR])
    assert renderer.preview("apology", "en", full_context()).subject == "Our own subject"
    assert "Olá, Ana" in renderer.preview("acknowledge", "pt", full_context()).text


def test_an_undefined_name_fails_with_template_locale_and_variable(tmp_path: Path) -> None:
    write(tmp_path, "pt", "apology", "Desculpe", "Olá\nO seu cupom: {{ voucher_code }}")
    renderer = TemplateRenderer([tmp_path])
    with pytest.raises(TemplateError) as caught:
        renderer.preview("apology", "pt_BR", {})
    message = str(caught.value)
    assert message.startswith("template 'apology' (pt): 'voucher_code' is undefined")
    assert "pt/apology.txt, line 2" in message
    assert (caught.value.name, caught.value.locale) == ("apology", "pt")


def test_html_is_escaped_and_text_is_not(tmp_path: Path) -> None:
    write(tmp_path, "en", "note", "Re: {{ name }}", "Hi {{ name }}", "<p>Hi {{ name }}</p>")
    rendered = TemplateRenderer([tmp_path]).preview("note", "en", {"name": "<b>Tom & Jerry</b>"})
    assert rendered.subject == "Re: <b>Tom & Jerry</b>"
    assert rendered.text == "Hi <b>Tom & Jerry</b>\n"
    assert rendered.html == "<p>Hi &lt;b&gt;Tom &amp; Jerry&lt;/b&gt;</p>"


def test_html_is_optional_and_the_subject_is_one_line(tmp_path: Path) -> None:
    write(tmp_path, "en", "plain", "Two\nlines  here\n", "Body")
    rendered = TemplateRenderer([tmp_path]).preview("plain", "en", {})
    assert (rendered.subject, rendered.html) == ("Two lines here", None)


def test_the_sandbox_refuses_unsafe_attribute_access(tmp_path: Path) -> None:
    write(tmp_path, "en", "evil", "x", "{{ ''.__class__.__mro__ }}")
    with pytest.raises(TemplateError, match="template 'evil' \\(en\\)"):
        TemplateRenderer([tmp_path]).preview("evil", "en", {})


def test_a_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "en", "bad", "x", "line one\n{% if %}")
    with pytest.raises(TemplateError, match=r"\(en/bad.txt, line 2\)"):
        TemplateRenderer([tmp_path]).preview("bad", "en", {})


def test_check_lists_problems_including_those_with_optional_parts_missing(tmp_path: Path) -> None:
    write(
        tmp_path,
        "en",
        "apology",
        "Sorry",
        "{% if compensation %}{{ compensation.code }}{% endif %}",
    )
    write(tmp_path, "pt", "apology", "Desculpe", "Cupom: {{ voucher_code }}")
    write(tmp_path, "en", "careless", "Hi", "Code {{ compensation.code }}")
    renderer = TemplateRenderer([tmp_path])
    sample = {"compensation": {"code": "MG-1"}}
    problems = renderer.check(["apology", "careless", "missing"], ["en", "pt"], sample)
    assert problems == [
        "template 'apology' (pt): 'voucher_code' is undefined (pt/apology.txt, line 1)",
        "template 'careless' (en): 'None' has no attribute 'code' (en/careless.txt, line 1)"
        " with compensation=None",
        "template 'missing' (en): not found (looked for en/missing.txt)",
        "template 'missing' (pt): not found (looked for pt/missing.txt, en/missing.txt)",
    ]


@pytest.mark.parametrize("locale", ["en", "pt", "pt_BR"])
def test_the_shipped_templates_render_with_and_without_optional_parts(locale: str) -> None:
    renderer = TemplateRenderer([DEFAULT_TEMPLATE_DIR])
    assert renderer.check(SHIPPED, [locale], full_context()) == []
    bare = full_context(
        failure=None, order=None, compensation=None, survey_url=None, customer={"name": None}
    )
    assert renderer.check(SHIPPED, [locale], bare) == []


def test_the_portuguese_apology_carries_the_voucher() -> None:
    rendered = TemplateRenderer([DEFAULT_TEMPLATE_DIR]).preview("apology", "pt_BR", full_context())
    assert rendered.subject == "Pedimos desculpas pelo pedido A-1001"
    assert "o seu pedido A-1001 está atrasado (cerca de 25 minutos" in rendered.text
    assert "cupom de R$ 10,00: MG-7KQ4-X9PW-2MDT (válido até 1 de abril de 2025)" in rendered.text
    assert rendered.html is not None and "MG-7KQ4-X9PW-2MDT" in rendered.html


def test_the_survey_has_one_link_per_score() -> None:
    rendered = TemplateRenderer([DEFAULT_TEMPLATE_DIR]).preview("survey", "en", full_context())
    for score in range(1, 6):
        assert f"https://shop.test/s/tok123?score={score}" in rendered.text
        assert f'href="https://shop.test/s/tok123?score={score}"' in (rendered.html or "")


def test_webhook_messages_carry_the_context_as_json_data() -> None:
    message = OutboxMessage(
        id="m1",
        key="case-7:reship",
        case_id="case-7",
        customer_id="c1",
        channel="webhook",
        template="reship",
        locale="en",
        recipient=None,
        context={"order": {"id": "A-1", "value": Decimal("42.50")}, "action": "ignored"},
    )
    rendered = TemplateRenderer([DEFAULT_TEMPLATE_DIR]).render(message)
    assert rendered.payload == {"order": {"id": "A-1", "value": "42.50"}, "action": "reship"}
    assert (rendered.idempotency_key, rendered.html) == ("case-7:reship", None)
