"""The desk in Debian's Chromium against a real `makegood serve` (issue 15): an agent searches
the queue for a word of a customer's message, finds the case, and opens the customer's page.
Screenshots go to artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .server import Server, acted_on, make_server, now_iso

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

if not CHROMIUM.exists():
    pytest.skip(
        "Debian's Chromium is not installed (apt-get install chromium)", allow_module_level=True
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")


def customer(n: int) -> list[dict[str, Any]]:
    """A profile and an order the business cancelled: a critical case waiting for a person."""
    cid = f"shopper-{n:02}"
    return [
        {
            "id": f"{cid}-profile",
            "type": "customer.upserted",
            "occurred_at": now_iso(),
            "customer_id": cid,
            "attributes": {"name": f"Shopper {n:02}", "tier": "silver", "locale": "en"},
        },
        {
            "id": f"{cid}-cancel",
            "type": "order.cancelled",
            "occurred_at": now_iso(),
            "customer_id": cid,
            "subject_id": f"{cid}-o1",
            "attributes": {"by": "business"},
        },
    ]


@pytest.fixture(scope="module")
def desk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = make_server(Path(tmp_path_factory.mktemp("desk-browser"))).start()
    events = [e for n in range(12) for e in customer(n)]
    events.append(
        {
            "id": "shopper-07-wrote",
            "type": "message.received",
            "occurred_at": now_iso(),
            "customer_id": "shopper-07",
            "subject_id": "shopper-07-o1",
            "attributes": {"text": "Terrible! My wedding cake order was cancelled, I am furious"},
        }
    )
    with server.client("ingest") as ingest:
        answer = ingest.post("/v1/events", json=events)
        assert answer.status_code in (200, 202), answer.text
    with server.client("agent") as agent:  # the 12 cases, once the engine loop acted
        assert acted_on(lambda: agent.get("/v1/cases", params={"limit": 1}).json()["total"] >= 12)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield launched
        launched.close()


def test_search_the_queue_by_a_word_of_a_message_then_open_the_customer(
    desk_server: Server, browser: object
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    expect = sync_api.expect
    with desk_server.client("agent") as agent:
        waiting = agent.get("/v1/queue").json()["total"]
        wanted = agent.get("/v1/cases", params={"customer_id": "shopper-07"}).json()["items"]
    assert waiting >= 12 and len(wanted) == 1
    case_id = wanted[0]["id"]

    context = browser.new_context(viewport={"width": 1360, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(f"{desk_server.url}/customers/shopper-07")  # signed out: the sign-in form
    expect(page.locator("h1")).to_have_text("Sign in to makegood")
    page.fill("#token", desk_server.tokens["agent"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{desk_server.url}/customers/shopper-07")
    page.goto(f"{desk_server.url}/")
    expect(page.locator("h1 .total")).to_have_text(str(waiting))

    page.get_by_label("Search").fill("wedding CAKE")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r"q=wedding"))
    expect(page.locator("h1 .total")).to_have_text("1")
    expect(page.locator("a.case-link")).to_have_text([case_id])
    page.screenshot(path=str(ARTIFACTS / "queue-search.png"), full_page=True)

    page.locator("a.customer-link").first.click()
    page.wait_for_url(f"{desk_server.url}/customers/shopper-07")
    expect(page.locator("h1")).to_contain_text("Shopper 07")
    expect(page.locator(".received")).to_contain_text("wedding cake")
    expect(page.locator("table.customer-cases a.case-link")).to_have_text([case_id])
    page.screenshot(path=str(ARTIFACTS / "customer.png"), full_page=True)

    page.locator("table.customer-cases a.case-link").first.click()
    page.wait_for_url(re.compile(rf"/cases/{case_id}$"))
    page.locator("a.customer-link").click()
    page.wait_for_url(f"{desk_server.url}/customers/shopper-07")

    page.goto(f"{desk_server.url}/")
    page.click("#view-breaching")
    page.wait_for_url(re.compile(r"sla=due_1h"))
    expect(page.locator("h1 .total")).to_have_text(str(waiting))  # all critical, due in 30 min
    context.close()
    for name in ("queue-search.png", "customer.png"):
        assert (ARTIFACTS / name).stat().st_size > 10_000
