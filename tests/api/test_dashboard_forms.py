"""The case page's grant form (issue 11 point 4, issue 10 point 18): an amount that is no
amount is a form error, a grant a budget refuses shows its reason, and the page's error text
cannot be set from the address bar."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from .desk import Desk, cancelled, profile


def case_and_csrf(desk: Desk, client: TestClient) -> tuple[str, str]:
    desk.ingest([profile("c-form"), cancelled("c-form")])
    with desk.client("agent") as agent:
        case_id = agent.get("/v1/cases").json()["items"][0]["id"]
    page = client.get(f"/cases/{case_id}")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    return case_id, csrf.group(1)


def flash(html: str) -> str:
    found = re.search(r'<div class="flash error" role="alert">([^<]*)</div>', html)
    return found.group(1) if found else ""


@pytest.mark.parametrize(
    ("amount", "why"),
    [
        ("1e999999", "at most 100,000"),
        ("1e-999999", "two decimals"),
        ("NaN", "positive"),
        ("-Infinity", "positive"),
        ("12.345", "two decimals"),
        ("ten", "not a number"),
    ],
)
def test_an_amount_that_is_no_amount_is_a_form_error(desk: Desk, amount: str, why: str) -> None:
    client = desk.signed_in("lead")
    case_id, csrf = case_and_csrf(desk, client)
    answer = client.post(
        f"/cases/{case_id}/grant", data={"csrf": csrf, "kind": "voucher", "amount": amount}
    )
    assert answer.status_code == 422 and why in flash(answer.text)
    assert answer.headers["hx-replace-url"] == f"/cases/{case_id}"


def test_a_grant_a_budget_refuses_shows_its_reason(desk: Desk) -> None:
    client = desk.signed_in("lead")
    case_id, csrf = case_and_csrf(desk, client)
    form = {"csrf": csrf, "kind": "refund", "amount": "100"}
    assert client.post(f"/cases/{case_id}/grant", data=form).status_code == 303
    refused = client.post(f"/cases/{case_id}/grant", data=form)  # 200 > per case 150
    assert refused.status_code == 409
    assert flash(refused.text) == "budget per case would be exceeded (remaining 50.00)"
    # htmx swaps a 409/422 answer in (by default it drops every 4xx, so nothing showed)
    config = re.search(r'<meta name="htmx-config" content=\'([^\']+)\'', refused.text)
    assert config is not None and '"(404|409|422)", "swap": true' in config.group(1)


def test_the_error_text_and_status_cannot_come_from_the_address(desk: Desk) -> None:
    client = desk.signed_in("agent")
    case_id, _ = case_and_csrf(desk, client)
    page = client.get(f"/cases/{case_id}", params={"error": "Call 555 now", "status": "99"})
    assert page.status_code == 200 and "Call 555" not in page.text
    assert client.get("/approvals", params={"error": "x", "status": "1"}).status_code == 200
