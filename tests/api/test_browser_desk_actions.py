"""The desk's actions in Debian's Chromium against a real `makegood serve` (issue 15): a reply
reaches the outbox in Portuguese, a lead approves 20 approvals at once and declares an
incident by hand, the queue and the case page update by themselves within 2 s, the queue and
the case page fit a 390 px phone, and axe-core finds no serious or critical violation on any
dashboard page. Screenshots go to artifacts/."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from makegood.adapters.sql import schema as t
from makegood.adapters.sql.store import SqlStore

from .server import Server, make_server, now_iso

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
AXE = Path(__file__).resolve().parent / "vendor" / "node_modules" / "axe-core" / "axe.min.js"
BULK = 20

if not CHROMIUM.exists():
    pytest.skip(
        "Debian's Chromium is not installed (apt-get install chromium)", allow_module_level=True
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")
expect = sync_api.expect


def customer(cid: str, locale: str = "en", area: str | None = None) -> list[dict[str, Any]]:
    """A profile and an order the business cancelled: a critical case waiting for a person."""
    order: dict[str, Any] = {"by": "business"}
    events = [
        {
            "id": f"{cid}-profile",
            "type": "customer.upserted",
            "occurred_at": now_iso(),
            "customer_id": cid,
            "attributes": {
                "name": cid.replace("-", " ").title(),
                "tier": "silver",
                "locale": locale,
                "email": f"{cid}@example.com",
            },
        },
        {
            "id": f"{cid}-cancel",
            "type": "order.cancelled",
            "occurred_at": now_iso(),
            "customer_id": cid,
            "subject_id": f"{cid}-o1",
            "attributes": order,
        },
    ]
    if area:
        events.append(
            {
                "id": f"{cid}-open",
                "type": "order.placed",
                "occurred_at": now_iso(),
                "customer_id": cid,
                "subject_id": f"{cid}-o2",
                "attributes": {"promised_at": now_iso(), "area": area, "value": 18},
            }
        )
    return events


def wait_for(check: Any, seconds: float = 20) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("timed out")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = make_server(Path(tmp_path_factory.mktemp("desk-actions"))).start()
    events = customer("rita-pt", "pt")
    for n in range(BULK):
        events += customer(f"bulk-{n:02}", area="Centro" if n < 3 else None)
    with running.client("ingest") as ingest:
        answer = ingest.post("/v1/events", json=events)
        assert answer.status_code in (200, 202), answer.text
    with running.client("agent") as agent:
        wait_for(lambda: agent.get("/v1/queue").json()["total"] >= BULK + 1)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield launched
        launched.close()


def signed_in(browser: Any, server: Server, role: str, width: int = 1360) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(f"{server.url}/login")
    page.get_by_label("Token").fill(server.tokens[role])
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server.url}/")
    return page


def case_of(server: Server, customer_id: str) -> str:
    with server.client("agent") as agent:
        items = agent.get("/v1/cases", params={"customer_id": customer_id}).json()["items"]
    return str(items[0]["id"])


def test_a_reply_reaches_the_outbox_in_portuguese(server: Server, browser: Any) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    case_id = case_of(server, "rita-pt")
    page = signed_in(browser, server, "agent")
    page.goto(f"{server.url}/cases/{case_id}")
    page.get_by_label("Template", exact=True).select_option("reply_looking_into_it")
    page.get_by_label("Message (free text, or a line the template adds)").fill(
        "Ligo-lhe ainda hoje."
    )
    page.click("button.preview-reply")
    preview = page.get_by_role("region", name="Preview of the reply")
    expect(preview).to_contain_text("Olá, Rita Pt")
    expect(preview).to_contain_text("Estou a analisar pessoalmente")
    expect(preview).to_contain_text("Ligo-lhe ainda hoje.")
    page.screenshot(path=str(ARTIFACTS / "reply-preview.png"), full_page=True)
    page.click("button.send-reply")
    expect(page.locator(".flash.ok")).to_have_text(
        "Reply queued to the customer; it is on the timeline."
    )
    expect(page.locator(".timeline li.t-reply_queued").first).to_contain_text("agent-1")
    page.context.close()

    store = SqlStore(server.env["MAKEGOOD_DATABASE_URL"])
    try:
        with store.engine.connect() as conn:
            row = conn.execute(
                sa.select(t.outbox).where(
                    t.outbox.c.case_id == case_id, t.outbox.c.template == "reply_looking_into_it"
                )
            ).one()
    finally:
        store.dispose()
    assert (row.locale, row.channel, row.recipient) == ("pt", "email", "rita-pt@example.com")
    outbox = server.directory / "outbox.jsonl"

    def delivered() -> dict[str, Any] | None:
        lines = outbox.read_text(encoding="utf-8").splitlines() if outbox.exists() else []
        sent = [json.loads(line) for line in lines]
        return next((m for m in sent if "Ligo-lhe ainda hoje." in m["text"]), None)

    message = wait_for(delivered)
    assert "Estou a analisar pessoalmente" in message["text"]
    assert message["subject"].startswith("Estamos a analisar")


def test_a_lead_approves_20_at_once(server: Server, browser: Any) -> None:
    with server.client("agent") as agent:
        for n in range(BULK):
            case_id = case_of(server, f"bulk-{n:02}")
            grant = {"kind": "voucher", "amount": "45", "reason": "cancelled on a birthday"}
            answer = agent.post(f"/v1/cases/{case_id}/compensations", json=grant)
            assert answer.json()["status"] == "pending", answer.text
    page = signed_in(browser, server, "lead")
    page.goto(f"{server.url}/approvals?kind=case&min_amount=45&max_amount=45")
    expect(page.locator("h1 .total")).to_have_text(str(BULK))
    expect(page.locator("table.approvals tbody tr")).to_have_count(BULK)
    expect(page.locator("table.approvals tbody tr").first).to_contain_text("Bulk")
    page.get_by_label("Select all on this page").check()
    expect(page.locator("input.approval:checked")).to_have_count(BULK)
    page.get_by_label("Reason", exact=True).fill("birthday cancellations: make it right")
    page.screenshot(path=str(ARTIFACTS / "approvals-bulk.png"), full_page=True)
    page.get_by_role("button", name="Approve selected").click()
    expect(page.locator(".flash.ok")).to_have_text(
        "The selected approvals are approved and granted."
    )
    expect(page.locator(".empty")).to_contain_text("No approvals waiting")
    page.context.close()
    with server.client("lead") as lead:
        assert lead.get("/v1/approvals", params={"kind": "case"}).json()["total"] == 0
        case = lead.get(f"/v1/cases/{case_of(server, 'bulk-07')}").json()
    (entry,) = [e for e in case["timeline"] if e["kind"] == "approval_approved"]
    assert entry["data"]["reason"] == "birthday cancellations: make it right"


def test_a_lead_declares_and_resolves_an_incident(server: Server, browser: Any) -> None:
    page = signed_in(browser, server, "lead")
    page.goto(f"{server.url}/incidents")
    page.get_by_label("Kind", exact=True).select_option("area_delays")
    page.get_by_label("Key", exact=True).fill("Centro")
    page.get_by_role("button", name="Declare incident").click()
    expect(page.locator(".flash.ok")).to_contain_text("Incident declared")
    expect(page.locator("h1")).to_contain_text("Incident Centro")
    incident_id = page.url.split("?")[0].rsplit("/", 1)[-1]
    with server.client("lead") as lead:  # the engine's fan-out tells the area's customers
        wait_for(lambda: lead.get(f"/v1/incidents/{incident_id}").json()["affected"] == 3)
    page.reload()
    expect(page.locator(".card h2 .total").first).to_have_text("3")
    expect(page.locator("table.affected")).to_contain_text("Bulk 00")
    expect(page.locator(".timeline")).to_contain_text("Incident declared")
    page.screenshot(path=str(ARTIFACTS / "incident.png"), full_page=True)
    page.get_by_role("button", name="Resolve incident").click()
    expect(page.locator(".flash.ok")).to_contain_text("Incident resolved")
    expect(page.locator(".meta")).to_contain_text("resolved")
    page.context.close()


def test_the_queue_and_the_case_update_by_themselves_within_2_s(
    server: Server, browser: Any
) -> None:
    case_id = case_of(server, "bulk-11")
    page = signed_in(browser, server, "agent")
    case_page = page.context.new_page()
    case_page.goto(f"{server.url}/cases/{case_id}")
    page.goto(f"{server.url}/?q=bulk-11")
    expect(page.locator("a.case-link")).to_have_text([case_id])
    with server.client("lead") as lead:
        changed = time.monotonic()
        lead.post(f"/v1/cases/{case_id}/notes", json={"text": "Customer called back: happy now"})
        lead.post(f"/v1/cases/{case_id}/assign", json={"owner": "maria"})
    expect(case_page.locator(".timeline")).to_contain_text("happy now", timeout=2_000)
    expect(page.locator("table.queue tbody tr").first).to_contain_text("maria", timeout=2_000)
    assert time.monotonic() - changed < 2.5
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1  # no reload
    case_page.screenshot(path=str(ARTIFACTS / "case-live.png"), full_page=True)
    page.context.close()


@pytest.mark.parametrize("where", ["queue", "case"])
def test_a_390_px_phone_has_no_sideways_scroll(server: Server, browser: Any, where: str) -> None:
    page = signed_in(browser, server, "agent", width=390)
    path = "/" if where == "queue" else f"/cases/{case_of(server, 'rita-pt')}"
    page.goto(f"{server.url}{path}")
    wide = page.evaluate("document.documentElement.scrollWidth")
    page.screenshot(path=str(ARTIFACTS / f"{where}-390.png"), full_page=True)
    assert wide <= 390, f"{where} is {wide} px wide at 390 px"
    page.context.close()


def test_the_keyboard_reaches_and_submits_the_search(server: Server, browser: Any) -> None:
    page = signed_in(browser, server, "agent")
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('aria-label')") == "Search":
            break
    else:
        raise AssertionError("Tab never reached the search box")
    page.keyboard.type("rita")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"q=rita"))
    expect(page.locator("h1 .total")).to_have_text("1")
    page.context.close()


@pytest.fixture(scope="module")
def axe() -> str:
    if not AXE.exists():
        pytest.skip(
            f"axe-core is not installed: cd {AXE.parents[2]} && npm install --no-save axe-core"
        )
    return AXE.read_text(encoding="utf-8")


def serious(page: Any, axe: str) -> list[str]:
    page.add_script_tag(content=axe)
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:4]}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def test_axe_finds_no_serious_violation_on_any_dashboard_page(
    server: Server, browser: Any, axe: str
) -> None:
    case_id = case_of(server, "rita-pt")
    with server.client("lead") as lead:
        incident = lead.get("/v1/incidents").json()["items"]
    # axe is injected as an inline script, which the dashboard's CSP (rightly) forbids
    context = browser.new_context(viewport={"width": 1360, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{server.url}/login")
    problems = {"/login": serious(page, axe)}
    page.get_by_label("Token").fill(server.tokens["lead"])
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server.url}/")
    paths = [
        "/",
        f"/cases/{case_id}",
        "/customers/rita-pt",
        "/approvals",
        "/incidents",
        "/insights",
        "/policy",
        *[f"/incidents/{i['id']}" for i in incident[:1]],
    ]
    for path in paths:
        page.goto(f"{server.url}{path}")
        problems[path] = serious(page, axe)
    page.goto(server.survey_link(case_id))
    problems["/s/…"] = serious(page, axe)
    page.context.close()
    bad = {k: v for k, v in problems.items() if v}
    assert not bad, json.dumps(bad, indent=1)
