"""The customer's survey page (issue 10 point 17, issue 11 point 4): links go to the site's
root + /s/, one click on a score in the e-mail answers (a scanner's fetch does not), the page
speaks the customer's language, and no token is a 500."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from helpers import T0
from makegood.adapters.policy_file import default_policy_text, parse_policy
from makegood.adapters.renderer import SurveyLinkRenderer
from makegood.adapters.sql import schema as t
from makegood.adapters.survey_link import serving_site, survey_token
from makegood.domain.errors import PolicyError
from makegood.domain.message import OutboxMessage

from .desk import SECRET, Desk, cancelled, profile

CLICK = {"sec-fetch-user": "?1", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document"}


def survey_links(desk: Desk, customer: str, locale: str = "en") -> dict[int, str]:
    """Resolve the customer's case, let the follow-up go out, and read the e-mail's links."""
    desk.ingest([profile(customer, locale=locale), cancelled(customer)])
    with desk.client("agent") as agent:
        case_id = agent.get("/v1/cases", params={"customer_id": customer}).json()["items"][0]
        assert agent.post(f"/v1/cases/{case_id['id']}/resolve").status_code == 200
    desk.tick(timedelta(hours=3))
    desk.app.dispatcher.dispatch_once()
    outbox = Path(desk.app.settings.outbox_file or "")
    sent = [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()]
    (survey,) = [m for m in sent if "?score=" in m["text"] and customer in json.dumps(m)]
    links = re.findall(r"(https://help\.example\.com/s/\S+\?score=(\d))", survey["text"])
    return {int(score): link for link, score in links}


def answered(desk: Desk) -> int:
    with desk.app.store.engine.connect() as c:
        return int(
            c.scalar(
                sa.select(sa.func.count())
                .select_from(t.events)
                .where(t.events.c.type == "survey.answered")
            )
            or 0
        )


def test_one_click_in_the_email_answers(desk: Desk) -> None:
    links = survey_links(desk, "c-click")
    assert sorted(links) == [1, 2, 3, 4, 5]
    path = links[5].removeprefix("https://help.example.com")
    client = desk.client()
    page = client.get(path, headers=CLICK)
    assert page.status_code == 200 and "Thank you!" in page.text
    assert answered(desk) == 1
    again = client.get(links[1].removeprefix("https://help.example.com"), headers=CLICK)
    assert again.status_code == 409 and answered(desk) == 1
    with desk.client("agent") as agent:
        case = agent.get("/v1/cases", params={"customer_id": "c-click"}).json()["items"][0]
    assert case["survey_score"] == 5


@pytest.mark.parametrize(
    "headers",
    [
        {},  # a mail scanner or link preview: no Fetch Metadata
        {**CLICK, "sec-purpose": "prefetch"},
        {**CLICK, "purpose": "prefetch"},
        {"sec-fetch-mode": "navigate", "sec-fetch-dest": "document"},  # no user activation
    ],
)
def test_a_fetch_nobody_clicked_records_nothing(desk: Desk, headers: dict[str, str]) -> None:
    links = survey_links(desk, "c-scan")
    client = desk.client()
    for score in (1, 2, 3):
        page = client.get(links[score].removeprefix("https://help.example.com"), headers=headers)
        assert page.status_code == 200 and "How did we do" in page.text
    assert 'class="score s3 chosen"' in page.text and "Press it again" in page.text
    assert answered(desk) == 0
    token = links[3].removeprefix("https://help.example.com/s/").split("?")[0]
    assert client.post(f"/s/{token}", data={"score": "4"}).status_code == 200
    assert answered(desk) == 1


def test_the_pages_speak_the_customers_language(desk: Desk) -> None:
    links = survey_links(desk, "c-pt", locale="pt-PT")
    client = desk.client()
    page = client.get(links[2].removeprefix("https://help.example.com"))
    assert '<html lang="pt">' in page.text and "Como nos saímos" in page.text
    assert "Muito satisfeito" in page.text and "How did we do" not in page.text
    thanks = client.get(links[2].removeprefix("https://help.example.com"), headers=CLICK)
    assert "Obrigado!" in thanks.text and "Lamentamos" in thanks.text
    again = client.get(links[2].removeprefix("https://help.example.com"))
    assert again.status_code == 409 and "Já respondeu" in again.text
    expired = client.get("/s/a.b.1.c", headers={"accept-language": "pt-BR,pt;q=0.9,en;q=0.5"})
    assert expired.status_code == 410 and "Este link expirou" in expired.text


@pytest.mark.parametrize(
    "token",
    [
        "a.b.99999999999999999999.c",
        "a.b.-1.c",
        "a.b.1e9.c",
        "a.b.١٢٣.c",
        "....",
        "x" * 3000,
        "a.b.c",
    ],
)
def test_no_token_is_a_server_error(desk: Desk, token: str) -> None:
    client = desk.client()
    assert client.get(f"/s/{token}").status_code == 410
    assert client.get(f"/s/{token}", params={"score": "5"}, headers=CLICK).status_code == 410
    assert client.post(f"/s/{token}", data={"score": "5"}).status_code == 410


def test_a_signed_token_with_an_absurd_expiry_is_expired_not_an_error(desk: Desk) -> None:
    payload = "survey-1.case-1.99999999999999999999"
    from makegood.adapters import survey_link

    token = f"{payload}.{survey_link._sign(SECRET, payload)}"
    assert desk.client().get(f"/s/{token}").status_code == 410


def test_links_go_to_the_sites_root() -> None:
    class Inner:  # stands in for the templates: the link is what is under test
        def render(self, message: OutboxMessage) -> object:
            return message.context

    renderer = SurveyLinkRenderer(Inner(), "s", "https://help.example.com/")  # type: ignore[arg-type]
    message = OutboxMessage(
        "m1",
        "k1",
        "case-1",
        "c1",
        "email",
        "survey",
        "en",
        "c1@example.com",
        {"survey": {"id": "sv-1", "expires_at": (T0 + timedelta(days=7)).isoformat()}},
        T0,
    )
    renderer.render(message)
    token = survey_token("s", "sv-1", "case-1", T0 + timedelta(days=7))
    assert message.context["survey_url"] == f"https://help.example.com/s/{token}"
    assert serving_site("127.0.0.1", 8123) == "http://127.0.0.1:8123"
    assert serving_site("0.0.0.0", 9000) == "http://127.0.0.1:9000"  # noqa: S104
    assert serving_site("::1", 9000) == "http://[::1]:9000"


def test_the_default_site_is_the_serving_address(tmp_path: Path) -> None:
    from makegood.bootstrap import bootstrap
    from makegood.config import Settings

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}")
    app = bootstrap(settings, site="http://127.0.0.1:8123")
    renderer = app.dispatcher.renderer
    assert isinstance(renderer, SurveyLinkRenderer) and renderer.site == "http://127.0.0.1:8123"
    app.store.dispose()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://help.example.com", "http(s) URL"),
        ("help.example.com", "http(s) URL"),
        ("https://help.example.com/s", "drop the trailing /s"),
        ("https://help.example.com/?a=1", "query"),
    ],
)
def test_policy_check_checks_the_survey_site(url: str, problem: str) -> None:
    text = default_policy_text().replace(
        "business:\n", f"business:\n  survey_base_url: {url!r}\n", 1
    )
    with pytest.raises(PolicyError) as error:
        parse_policy(text, "policy.yaml")
    assert problem in str(error.value) and error.value.line is not None
    good = default_policy_text().replace(
        "business:\n", "business:\n  survey_base_url: https://help.example.com\n", 1
    )
    assert parse_policy(good).policy.business.survey_base_url == "https://help.example.com"
