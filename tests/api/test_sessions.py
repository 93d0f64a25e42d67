"""Dashboard sessions (issue 11 point 5, issue 10 point 11): signed-out pages send the visitor
to /login and back, a session ends at sign-out, the sign-in form is CSRF-protected, a tampered
cookie is a signed-out visitor, and cookies are Secure over HTTPS."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from .desk import Desk

PAGES = ("/", "/approvals", "/incidents", "/insights", "/cases/case-1?tab=x")


@pytest.mark.parametrize("path", PAGES)
def test_a_signed_out_page_redirects_to_sign_in_and_back(desk: Desk, path: str) -> None:
    client = desk.client()
    answer = client.get(path)
    assert answer.status_code == 303
    wanted = answer.headers["location"]
    assert wanted == ("/login" if path == "/" else f"/login?next={quote(path, safe='')}")
    form = client.get(wanted)
    assert form.status_code == 200 and f'name="next" value="{path}"' in form.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    signed_in = client.post(
        "/login", data={"token": desk.tokens["agent"], "csrf": csrf.group(1), "next": path}
    )
    assert (signed_in.status_code, signed_in.headers["location"]) == (303, path)
    assert client.get(path).status_code in (200, 404)  # a page now (case-1 does not exist)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil"])
def test_sign_in_returns_only_to_this_site(desk: Desk, target: str) -> None:
    client = desk.client()
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert csrf is not None
    answer = client.post(
        "/login", data={"token": desk.tokens["lead"], "csrf": csrf.group(1), "next": target}
    )
    assert answer.headers["location"] == "/"


def test_a_session_stops_working_after_sign_out(desk: Desk) -> None:
    client = desk.signed_in("lead")
    stolen = client.cookies["makegood_session"]
    page = client.get("/")
    assert page.status_code == 200
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    assert client.post("/logout", data={"csrf": csrf.group(1)}).status_code == 303
    replay = desk.client()
    replay.cookies.set("makegood_session", stolen)
    assert replay.get("/").status_code == 303
    assert replay.get("/approvals").headers["location"].startswith("/login")


def test_the_sign_in_form_needs_its_csrf_token(desk: Desk) -> None:
    client = desk.client()
    client.get("/login")  # the login cookie is set ...
    forged = client.post("/login", data={"token": desk.tokens["admin"]})  # ... no token sent
    assert forged.status_code == 403 and "makegood_session" not in forged.cookies
    elsewhere = desk.client()  # another site's page posting the form: no login cookie at all
    other = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert other is not None
    answer = elsewhere.post("/login", data={"token": desk.tokens["admin"], "csrf": other.group(1)})
    assert answer.status_code == 403
    assert desk.signed_in("admin").get("/").status_code == 200


@pytest.mark.parametrize(
    "cookie", ["x", "a.b.c", "a.99999999999999999999.c", "%C3%A9", "A" * 5000, "%00", ".."]
)
def test_a_tampered_cookie_is_a_signed_out_visitor(desk: Desk, cookie: str) -> None:
    client = desk.client()
    client.cookies.set("makegood_session", cookie)
    answer = client.get("/approvals")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert client.post("/logout", data={"csrf": "x"}).status_code == 303


def test_a_csrf_field_of_any_text_is_refused_not_an_error(desk: Desk) -> None:
    client = desk.signed_in("agent")
    assert client.post("/logout", data={"csrf": "é€"}).status_code == 403
    client.get("/login")
    assert client.post("/login", data={"token": "mg_x", "csrf": "é€"}).status_code == 403


def test_cookies_are_secure_over_https_only(desk: Desk) -> None:
    plain = desk.signed_in("agent")
    assert plain.get("/").status_code == 200
    secure = desk.client(https=True)
    form = secure.get("/login")
    assert "secure" in form.headers["set-cookie"].lower()
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    answer = secure.post("/login", data={"token": desk.tokens["agent"], "csrf": csrf.group(1)})
    session_cookie = [c for c in answer.headers.get_list("set-cookie") if "makegood_session" in c]
    assert session_cookie and "secure" in session_cookie[0].lower()
    http_form = desk.client().get("/login")
    assert "secure" not in http_form.headers["set-cookie"].lower()
