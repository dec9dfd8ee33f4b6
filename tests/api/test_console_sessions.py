"""Console sessions of their own, through the real app: the cookie is a random session id (not
the token), logout ends it on the server (a copied cookie stops working, on another replica as
well), a cookie set before sign-in is never adopted, and the id rotates with CSRF still working."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from tests.helpers.app import csrf_of, log_in, make_app, token
from uiserver.http.console.auth import SESSION_COOKIE


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("redis_url")) if request.param == "redis" else ""


@pytest.fixture
def replicas(tmp_path: Path, store_url: str) -> Iterator[tuple[TestClient, TestClient]]:
    """Two apps on the same store (the same SQLite file, or the same Redis)."""
    with (
        TestClient(make_app(tmp_path, store_url=store_url), follow_redirects=False) as one,
        TestClient(make_app(tmp_path, store_url=store_url), follow_redirects=False) as two,
    ):
        yield one, two


def session_cookie(response: httpx.Response) -> str:
    for header in response.headers.get_list("set-cookie"):
        cookie = SimpleCookie(header)
        if SESSION_COOKIE in cookie:
            return cookie[SESSION_COOKIE].value
    raise AssertionError("no session cookie set")


def visit(client: TestClient, cookie: str, path: str = "/designer/") -> httpx.Response:
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, cookie, path="/designer")
    response: httpx.Response = client.get(path)
    client.cookies.clear()
    return response


def test_the_cookie_is_a_session_id_not_the_token(
    replicas: tuple[TestClient, TestClient], tmp_path: Path, store_url: str
) -> None:
    one, two = replicas
    login = log_in(one)
    value = session_cookie(login)
    assert value.count(".") == 0 and len(value) >= 43  # no JWT: 32 random bytes
    assert visit(two, value).status_code == 200  # the session is in the store, for every replica
    if not store_url:  # at rest, only the id's hash is stored
        data = b"".join(p.read_bytes() for p in tmp_path.glob("uiserver.db*"))
        assert value.encode() not in data
        assert hashlib.sha256(value.encode()).hexdigest().encode() in data


def test_a_copied_cookie_stops_working_after_logout_on_every_replica(
    replicas: tuple[TestClient, TestClient],
) -> None:
    one, two = replicas
    copied = session_cookie(log_in(one))
    assert visit(two, copied).status_code == 200
    csrf = csrf_of(one.get("/designer/").text)
    logout = one.post("/designer/logout", data={"csrf_token": csrf})
    assert logout.status_code == 303
    for client in (one, two):  # the input: the copied value keeps opening the console
        page = visit(client, copied)
        assert page.status_code in (303, 401) and "Templates" not in page.text
        assert page.status_code == 401 or page.headers["location"] == "/designer/login"
        api = visit(client, copied, "/designer/api/v1/admin/templates")
        assert api.status_code == 401 and api.json()["error"]["code"] == "unauthenticated"


def test_a_cookie_set_before_sign_in_is_not_adopted(
    replicas: tuple[TestClient, TestClient],
) -> None:
    one, two = replicas
    fixed = "attacker-chosen-value-0123456789-abcdefghijkl"
    one.cookies.set(SESSION_COOKIE, fixed, path="/designer")
    login = log_in(one)
    issued = session_cookie(login)
    assert issued != fixed
    assert visit(two, fixed).status_code in (303, 401)
    assert visit(two, issued).status_code == 200


def test_signing_in_again_ends_the_previous_session(
    replicas: tuple[TestClient, TestClient],
) -> None:
    one, two = replicas
    first = session_cookie(log_in(one))
    one.cookies.set(SESSION_COOKIE, first, path="/designer")
    second = session_cookie(log_in(one, "dora", "admin"))  # a change of role: a new id
    assert second != first
    assert visit(two, first).status_code in (303, 401)
    page = visit(two, second)
    assert page.status_code == 200 and "dora" in page.text


def test_the_id_rotates_and_forms_keep_working(tmp_path: Path, store_url: str) -> None:
    app = make_app(tmp_path, store_url=store_url, session_rotate=0.001)
    with TestClient(app, follow_redirects=False) as client:
        first = session_cookie(log_in(client))
        page = client.get("/designer/")
        assert page.status_code == 200
        second = session_cookie(page)
        assert second != first
        csrf = csrf_of(page.text)
        # The replaced id still works for a moment (requests in flight).
        assert visit(client, first).status_code == 200
        client.cookies.set(SESSION_COOKIE, second, path="/designer")
        editor = client.get("/designer/pages/home")
        third = session_cookie(editor)
        assert third not in (first, second)
        client.cookies.set(SESSION_COOKIE, third, path="/designer")
        # A form rendered before the rotation still posts (its CSRF token fits the sign-in).
        response = client.post("/designer/logout", data={"csrf_token": csrf})
        assert response.status_code == 303
        for ended in (first, second, third):
            assert visit(client, ended).status_code in (303, 401)


def test_a_token_in_the_cookie_opens_nothing(replicas: tuple[TestClient, TestClient]) -> None:
    one, _ = replicas
    page = visit(one, token("dora", "designer"))
    assert page.status_code == 401 and "Templates" not in page.text
    assert re.search(r"sign in", page.text, re.I)


@pytest.mark.parametrize(
    ("bound", "words"),
    [
        pytest.param({"session_idle": 1.0}, "without activity", id="idle"),
        pytest.param({"session_max": 1.0}, "expired", id="absolute"),
    ],
)
def test_sessions_end_at_their_bounds(
    tmp_path: Path, store_url: str, bound: dict[str, float], words: str
) -> None:
    app = make_app(tmp_path, store_url=store_url, **bound)
    with TestClient(app, follow_redirects=False) as client:
        value = session_cookie(log_in(client))
        time.sleep(1.3)
        page = visit(client, value)
        assert page.status_code == 401 and words in page.text
        assert visit(client, value).status_code in (303, 401)


@pytest.mark.parametrize(
    ("bounds", "idle", "absolute"),
    [
        pytest.param({}, "30 minutes", "12 hours", id="defaults"),
        pytest.param({"session_idle": 90.0, "session_max": 86_400.0}, "90 seconds", "1 day"),
    ],
)
def test_the_sign_in_page_says_what_is_kept_and_when_the_session_ends(
    tmp_path: Path, bounds: dict[str, float], idle: str, absolute: str
) -> None:
    # It said the token "is kept in a secure cookie until it expires or you sign out": the
    # cookie holds a session id, never the token, and the session ends sooner.
    with TestClient(make_app(tmp_path, **bounds), follow_redirects=False) as client:
        for page in (client.get("/designer/login"), log_in(client, "ann", "user")):
            text = " ".join(re.sub(r"<[^>]+>", " ", page.text).split())
            assert "kept in a secure cookie" not in text
            assert page.status_code in (200, 403), page.status_code
            assert "The token itself is not kept" in text
            assert f"ends after {idle} without a request, {absolute} after you sign in" in text
