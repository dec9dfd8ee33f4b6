"""Token lifetimes at the edge: a designer or admin token valid until 2100 (the issue's input) is
refused 401 with a clear JSON error on the admin API, `/v1/me`, layouts and the console; the
console cookie no longer lives as long as the token (it held the token for 73 years)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import jwt
import pytest
from starlette.testclient import TestClient

from tests.helpers.app import SECRET, csrf_of, log_in, make_app
from uiserver.http.console.auth import SESSION_COOKIE

YEAR_2100 = 4_102_444_800


def signed(**claims: object) -> str:
    return jwt.encode(claims, SECRET, algorithm="HS256")


def now() -> int:
    return int(time.time())


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(tmp_path), follow_redirects=False) as test_client:
        yield test_client


ROUTES = [
    ("GET", "/v1/admin/templates"),
    ("GET", "/v1/admin/templates/home"),
    ("GET", "/v1/me/settings"),
    ("GET", "/v1/me/data"),
    ("GET", "/v1/layouts/home"),
]

LONG_LIVED = [
    pytest.param({"role": "admin", "iat": "NOW", "exp": YEAR_2100}, id="admin-exp-2100"),
    pytest.param({"role": "designer", "iat": "NOW", "exp": YEAR_2100}, id="designer-exp-2100"),
    pytest.param({"role": "admin", "exp": YEAR_2100}, id="admin-exp-2100-no-iat"),
    pytest.param({"role": "designer", "exp": "NOW+600"}, id="designer-no-iat"),
    pytest.param({"role": "designer", "iat": "NOW", "exp": "NOW+86400"}, id="designer-a-day"),
    pytest.param({"role": "admin", "iat": "NOW-86400", "exp": "NOW+60"}, id="admin-iat-a-day-ago"),
    pytest.param({"iat": "NOW", "exp": YEAR_2100}, id="user-exp-2100"),
    pytest.param({"exp": YEAR_2100}, id="user-exp-2100-no-iat"),
    pytest.param({"iat": "NOW", "exp": "NOW+2678400"}, id="user-31-days"),
    pytest.param({"role": "designer", "iat": "NOW", "exp": 10**30}, id="designer-exp-10**30"),
    pytest.param({"role": "admin", "iat": "NOW+3600", "exp": "NOW+7200"}, id="admin-iat-future"),
    pytest.param(
        {"role": "admin", "iat": "NOW", "nbf": "NOW+3600", "exp": "NOW+7200"}, id="admin-nbf-future"
    ),
    pytest.param({"role": "designer", "iat": "NOW"}, id="designer-no-exp"),
]


def claims_of(spec: dict[str, object]) -> dict[str, object]:
    out: dict[str, object] = {"sub": "dora"}
    for name, value in spec.items():
        if isinstance(value, str) and value.startswith("NOW"):
            out[name] = now() + int(value[3:] or "0")  # "NOW+3600": an hour from now
        else:
            out[name] = value
    return out


@pytest.mark.parametrize("spec", LONG_LIVED)
def test_long_lived_or_undated_tokens_are_refused_everywhere(
    client: TestClient, spec: dict[str, object]
) -> None:
    header = {"Authorization": f"Bearer {signed(**claims_of(spec))}"}
    for method, path in ROUTES:
        response = client.request(method, path, headers=header)
        assert response.status_code == 401, (path, response.text)
        error = response.json()["error"]
        assert error["code"] in ("token_lifetime", "bad_token", "token_expired"), error
        assert error["message"] and response.headers["www-authenticate"].startswith("Bearer")
    # The console: as a bearer header, and through the sign-in form.
    page = client.get("/designer/", headers=header)
    assert page.status_code == 401 and "<textarea" not in page.text
    form = client.get("/designer/login")
    login = client.post(
        "/designer/login",
        data={"csrf_token": csrf_of(form.text), "token": signed(**claims_of(spec))},
    )
    assert login.status_code == 401 and "not accepted" in login.text
    assert not any(SESSION_COOKIE in h for h in login.headers.get_list("set-cookie"))


def test_the_2100_admin_token_says_why(client: TestClient) -> None:
    token = signed(sub="ada", role="admin", iat=now(), exp=YEAR_2100)
    error = client.get("/v1/admin/templates", headers={"Authorization": f"Bearer {token}"})
    body = error.json()["error"]
    assert body["code"] == "token_lifetime"
    assert "43,200 s" in body["message"] and "admin" in body["message"]


def test_tokens_within_the_lifetime_still_work(client: TestClient) -> None:
    designer = signed(sub="dora", role="designer", iat=now(), exp=now() + 12 * 3_600)
    assert (
        client.get(
            "/v1/admin/templates", headers={"Authorization": f"Bearer {designer}"}
        ).status_code
        == 200
    )
    user = signed(sub="u1", exp=now() + 7 * 86_400)  # no iat: a user's is optional
    assert (
        client.get("/v1/me/settings", headers={"Authorization": f"Bearer {user}"}).status_code
        == 200
    )


def test_the_lifetimes_are_configurable(tmp_path: Path) -> None:
    app = make_app(tmp_path, designer_token_max_lifetime=600.0, token_max_lifetime=3_600.0)
    with TestClient(app) as client:
        hour = signed(sub="dora", role="designer", iat=now(), exp=now() + 3_600)
        refused = client.get("/v1/admin/templates", headers={"Authorization": f"Bearer {hour}"})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "token_lifetime"
        day = signed(sub="u", iat=now(), exp=now() + 86_400)
        assert (
            client.get("/v1/me/settings", headers={"Authorization": f"Bearer {day}"}).status_code
            == 401
        )


def max_age_of(set_cookies: list[str]) -> int:
    for header in set_cookies:
        cookie = SimpleCookie(header)
        if SESSION_COOKIE in cookie:
            return int(cookie[SESSION_COOKIE]["max-age"])
    raise AssertionError("no session cookie")


def test_the_console_cookie_lives_hours_not_decades(client: TestClient) -> None:
    response = log_in(client)
    assert response.status_code == 303
    max_age = max_age_of(response.headers.get_list("set-cookie"))
    assert 0 < max_age <= 3_600  # the helper's token lives an hour: the cookie no longer
    # A token valid for the whole 12 h: the cookie ends with the session's absolute bound.
    form = client.get("/designer/login")
    long = signed(sub="dora", role="designer", iat=now(), exp=now() + 12 * 3_600)
    response = client.post(
        "/designer/login", data={"csrf_token": csrf_of(form.text), "token": long}
    )
    assert 0 < max_age_of(response.headers.get_list("set-cookie")) <= 12 * 3_600


def test_the_2100_token_gets_no_73_year_cookie(client: TestClient) -> None:
    # The input: signing in with it made a cookie that lived until 2100.
    form = client.get("/designer/login")
    token = signed(sub="dora", role="designer", iat=now(), exp=YEAR_2100)
    response = client.post(
        "/designer/login", data={"csrf_token": csrf_of(form.text), "token": token}
    )
    ages = [
        int(SimpleCookie(h)[SESSION_COOKIE]["max-age"] or 0)
        for h in response.headers.get_list("set-cookie")
        if SESSION_COOKIE in SimpleCookie(h)
    ]
    assert all(age <= 12 * 3_600 for age in ages), ages
    assert response.status_code == 401


def test_a_shorter_session_bound_caps_the_cookie(tmp_path: Path) -> None:
    with TestClient(make_app(tmp_path, session_max=900.0), follow_redirects=False) as client:
        assert 0 < max_age_of(log_in(client).headers.get_list("set-cookie")) <= 900
