"""The survey page asks what the policy's follow-up says (issue 15): with `survey: ces` it
asks how easy it was (1-7) and stores a `ces` answer, not a csat one; and it speaks the
language the survey message was written in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from makegood.adapters.sql import schema as t

from .desk import Desk, make_desk
from .test_survey_page import CLICK, survey_links


@pytest.fixture
def ces_desk(tmp_path: Path) -> Iterator[Desk]:
    def ces(text: str) -> str:
        assert "\n  survey: csat\n" in text, "the shipped policy's follow-up moved"
        return text.replace("\n  survey: csat\n", "\n  survey: ces\n")

    with make_desk("sqlite", tmp_path, ces) as made:
        yield made


def answers(desk: Desk) -> list[dict[str, object]]:
    with desk.app.store.engine.connect() as c:
        rows = c.execute(
            sa.select(t.events.c.attributes).where(t.events.c.type == "survey.answered")
        )
        return [dict(r.attributes) for r in rows]


def test_a_ces_follow_up_asks_how_easy_and_stores_ces(ces_desk: Desk) -> None:
    links = survey_links(ces_desk, "c-ces", locale="pt")
    path = links[1].removeprefix("https://help.example.com").split("?")[0]
    client = ces_desk.client()
    page = client.get(path)
    assert page.status_code == 200
    assert "Foi fácil resolver isto?" in page.text and "Muito fácil" in page.text
    assert page.text.count('name="score"') == 7 and 'name="ces"' not in page.text
    thanks = client.post(path, data={"score": "6", "comment": "Rápido"})
    assert thanks.status_code == 200 and "Obrigado!" in thanks.text
    assert answers(ces_desk) == [
        {"case_id": answers(ces_desk)[0]["case_id"], "score": 6, "kind": "ces", "comment": "Rápido"}
    ]


def test_a_csat_follow_up_stores_csat_with_ces_alongside(desk: Desk) -> None:
    links = survey_links(desk, "c-csat")
    path = links[1].removeprefix("https://help.example.com").split("?")[0]
    client = desk.client()
    assert client.post(path, data={"score": "6"}).status_code == 422  # csat is 1-5
    assert client.post(path, data={"score": "4", "ces": "7"}).status_code == 200
    (answer,) = answers(desk)
    assert (answer["kind"], answer["score"], answer["ces"]) == ("csat", 4, 7)


def test_the_page_speaks_the_language_the_survey_was_sent_in(desk: Desk) -> None:
    links = survey_links(desk, "c-lang", locale="pt")
    # the profile changes language after the survey went out in Portuguese
    desk.ingest(
        [
            {
                "id": "c-lang-profile-2",
                "type": "customer.upserted",
                "occurred_at": "2026-11-02T12:00:00+00:00",
                "customer_id": "c-lang",
                "attributes": {"locale": "en"},
            }
        ]
    )
    with desk.app.store.engine.connect() as c:
        now = c.scalar(sa.select(t.customers.c.locale).where(t.customers.c.id == "c-lang"))
    assert now == "en"
    path = links[5].removeprefix("https://help.example.com")
    page = desk.client().get(path, headers=CLICK)
    assert '<html lang="pt">' in page.text and "Obrigado!" in page.text


def test_an_expired_link_says_so_in_the_customers_language(desk: Desk) -> None:
    links = survey_links(desk, "c-late", locale="pt")
    desk.clock.advance(timedelta(days=30))  # long past the survey's expiry
    path = links[4].removeprefix("https://help.example.com")
    page = desk.client().get(path, headers={"accept-language": "en"})
    assert page.status_code == 410
    assert '<html lang="pt">' in page.text and "Este link expirou" in page.text
    forged = desk.client().get("/s/a.b.1.c", headers={"accept-language": "en"})
    assert forged.status_code == 410 and "This link has expired" in forged.text
