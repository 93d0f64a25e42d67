"""The dashboard in Debian's Chromium against a real `makegood serve` loaded with demo data.

An agent signs in, opens the top case, grants within the limit and above it; a lead approves;
a customer answers the survey link and the case closes. Screenshots go to artifacts/.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .server import Server, make_server

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

if not CHROMIUM.exists():
    pytest.skip(
        "Debian's Chromium is not installed (apt-get install chromium)", allow_module_level=True
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = Path(tmp_path_factory.mktemp("browser"))
    database = directory / "demo.db"
    subprocess.run(
        [
            str(Path(sys.executable).parent / "makegood"),
            "demo",
            "--db",
            str(database),
            "--customers",
            "150",
            "--orders",
            "900",
            "--json",
        ],
        cwd=directory,
        check=True,
        capture_output=True,
        timeout=120,
    )
    server = make_server(directory, database).start()
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


def sign_in(page: object, server: Server, role: str) -> None:
    page.goto(f"{server.url}/login")  # type: ignore[attr-defined]
    page.fill("#token", server.tokens[role])  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_url(f"{server.url}/")  # type: ignore[attr-defined]


def test_agent_lead_and_customer(demo_server: Server, browser: object) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    expect = sync_api.expect
    context = browser.new_context(viewport={"width": 1360, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    sign_in(page, demo_server, "agent")
    expect(page.locator("h1")).to_contain_text("need a person")
    page.screenshot(path=str(ARTIFACTS / "queue.png"), full_page=True)

    page.locator("a.case-link").first.click()
    page.wait_for_url(re.compile(r"/cases/"))
    case_url = page.url
    case_id = case_url.rsplit("/", 1)[-1]
    expect(page.locator(".suggest")).to_contain_text("Suggested next step")

    page.fill("form.grant input[name=amount]", "10")
    page.fill("form.grant input[name=reason]", "sorry for the trouble")
    page.click("form.grant button")
    expect(page.locator(".flash.ok")).to_have_text("Compensation granted.")
    expect(page.locator(".timeline li.t-compensation_granted").first).to_contain_text("agent-1")
    page.screenshot(path=str(ARTIFACTS / "case.png"), full_page=True)

    page.fill("form.grant input[name=amount]", "45")
    page.fill("form.grant input[name=reason]", "a second missed dinner")
    page.click("form.grant button")
    expect(page.locator(".flash.ok")).to_have_text("Above your limit: sent for approval.")
    expect(page.locator(".timeline li.t-approval_requested").first).to_contain_text("agent-1")
    context.close()

    lead = browser.new_context(viewport={"width": 1360, "height": 900})  # type: ignore[attr-defined]
    page = lead.new_page()
    sign_in(page, demo_server, "lead")
    page.goto(f"{demo_server.url}/approvals")
    row = page.locator("tr", has=page.locator(f"a[href='/cases/{case_id}']")).filter(
        has_text="45.00"
    )
    row.locator("button", has_text="Approve").click()
    expect(page.locator(".flash.ok")).to_have_text("Approved and granted.")
    page.goto(case_url)
    expect(page.locator(".timeline")).to_contain_text("Approval approved")
    page.click("button:has-text('Resolve')")
    expect(page.locator(".meta")).to_contain_text("resolved")

    customer = page.context.browser.new_page()  # type: ignore[union-attr]
    customer.goto(demo_server.survey_link(case_id, reopened=_reopened(demo_server, case_id)))
    customer.click("button.score.s5")
    expect(customer.locator("h1")).to_have_text(re.compile("Thank you!|Obrigado!"))
    customer.close()

    page.goto(case_url)
    expect(page.locator(".meta")).to_contain_text("closed")
    expect(page.locator(".timeline")).to_contain_text("Survey answered")

    page.goto(f"{demo_server.url}/insights")
    expect(page.locator("h1")).to_have_text("Recovery metrics")
    expect(page.locator("svg.chart").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "metrics.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{demo_server.url}/")
    page.screenshot(path=str(ARTIFACTS / "queue-phone.png"), full_page=True)
    lead.close()
    for name in ("queue.png", "case.png", "metrics.png"):
        assert (ARTIFACTS / name).stat().st_size > 10_000


def _reopened(server: Server, case_id: str) -> int:
    """How often the case was reopened: the survey id includes it."""
    with server.client("lead") as client:
        return int(client.get(f"/v1/cases/{case_id}").json()["case"]["reopened"])


PAGES = ("/", "/approvals", "/incidents", "/insights")


def test_every_page_signed_out_then_signed_in(demo_server: Server, browser: object) -> None:
    """Signed out, each page leads to the sign-in form and, once signed in, back to itself
    (it answered 500 before); signed in, each page and a case open with their heading."""
    expect = sync_api.expect
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    errors: list[int] = []
    page.on("response", lambda r: errors.append(r.status) if r.status >= 500 else None)
    with demo_server.client("agent") as agent:
        case_id = agent.get("/v1/queue", params={"limit": 1}).json()["items"][0]["id"]
    for path in (*PAGES, f"/cases/{case_id}"):
        page.goto(f"{demo_server.url}{path}")
        expect(page.locator("h1")).to_have_text("Sign in to makegood")
        assert "/login" in page.url
        page.fill("#token", demo_server.tokens["agent"])
        page.click("button[type=submit]")
        page.wait_for_url(f"{demo_server.url}{path}")
        expect(page.locator("h1")).not_to_have_text("Sign in to makegood")
        page.click("button:has-text('Sign out')")
        page.wait_for_url(re.compile(r"/login"))
    assert errors == []
    context.close()


def test_queue_pages_and_a_refused_grant_shows_why(demo_server: Server, browser: object) -> None:
    expect = sync_api.expect
    context = browser.new_context(viewport={"width": 1360, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    sign_in(page, demo_server, "lead")
    with demo_server.client("lead") as lead:
        waiting = lead.get("/v1/queue").json()["total"]
    expect(page.locator("h1 .total")).to_have_text(str(waiting))
    if waiting > 50:
        page.click("a.next")
        expect(page.locator("nav.pager a.first")).to_be_visible()
    page.locator("a.case-link").first.click()
    page.wait_for_url(re.compile(r"/cases/"))
    case_url = page.url
    for _ in range(2):  # 200 on one case: beyond the per-case budget of 150
        page.fill("form.grant input[name=amount]", "100")
        page.fill("form.grant input[name=reason]", "goodwill")
        with page.expect_response(lambda r: r.url.endswith("/grant")):
            page.click("form.grant button")
        expect(page.locator(".flash")).to_be_visible()
    expect(page.locator(".flash.error")).to_contain_text("budget per case would be exceeded")
    assert page.url == case_url
    page.screenshot(path=str(ARTIFACTS / "refused.png"), full_page=True)
    context.close()


def test_one_click_in_the_email(demo_server: Server, browser: object) -> None:
    """The e-mail's `?score=N` link answers with the click; the customer's language shows."""
    with demo_server.client("lead") as lead:
        case_id = lead.get("/v1/queue", params={"limit": 1}).json()["items"][0]["id"]
        assert lead.post(f"/v1/cases/{case_id}/resolve").status_code == 200
    link = demo_server.survey_link(case_id, reopened=_reopened(demo_server, case_id))
    expect = sync_api.expect
    page = browser.new_page()  # type: ignore[attr-defined]
    page.set_content(f'<p>How did we do?</p><a id="four" href="{link}?score=4">4</a>')
    page.click("#four")
    expect(page.locator("h1")).to_have_text(re.compile("Thank you!|Obrigado!"))
    with demo_server.client("lead") as lead:
        assert lead.get(f"/v1/cases/{case_id}").json()["case"]["survey_score"] == 4
    page.close()
