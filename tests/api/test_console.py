"""The designer console through the real app: sessions, CSRF, escaping, and every page's forms.

The browser tests (`tests/browser/test_console.py`, `test_axe.py`) drive the same pages in
Chromium; these check what a browser cannot easily show: cookie attributes, status codes, that a
refused request changed nothing.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from starlette.testclient import TestClient

from tests.helpers.app import bearer, csrf_of, log_in, make_app, token
from tests.helpers.personas import unbuildable_personas
from uiserver.http.console.auth import LOGIN_COOKIE, SESSION_COOKIE

DESIGNER = bearer("dora", "designer")
SCRIPT = "<script>alert(1)</script>"
MANUAL = "/designer/pages/home/assessment/manual/gestures"  # a form any page state accepts


@pytest.fixture
def app(tmp_path: Path) -> Any:
    return make_app(tmp_path)


@pytest.fixture
def anonymous(app: Any) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as client:
        yield client


@pytest.fixture
def console(anonymous: TestClient) -> TestClient:
    assert log_in(anonymous).status_code == 303
    return anonymous


def cookie_attributes(response: httpx.Response, name: str) -> dict[str, Any]:
    for header in response.headers.get_list("set-cookie"):
        cookie = SimpleCookie(header)
        if name in cookie:
            morsel = cookie[name]
            return {"value": morsel.value, **{k: morsel[k] for k in morsel if morsel[k]}}
    raise AssertionError(f"no Set-Cookie for {name}")


def history(client: TestClient, page: str = "home") -> list[dict[str, Any]]:
    versions: list[dict[str, Any]] = client.get(
        f"/v1/admin/templates/{page}/history", headers=DESIGNER
    ).json()["versions"]
    return versions


def live(client: TestClient, page: str = "home") -> tuple[str, dict[str, Any]]:
    body = client.get(f"/v1/admin/templates/{page}", headers=DESIGNER).json()
    return body["live_version"], body["template"]


def editor_text(client: TestClient, page: str = "home") -> str:
    html = client.get(f"/designer/pages/{page}").text
    match = re.search(r'<textarea id="template"[^>]*>(.*?)</textarea>', html, re.S)
    assert match
    import html as html_module

    return html_module.unescape(match.group(1))


# --------------------------------------------------------------------------- sessions


def test_login_sets_httponly_samesite_cookie(anonymous: TestClient) -> None:
    form = anonymous.get("/designer/login")
    assert form.status_code == 200
    assert '<label for="token">' in form.text and 'id="token"' in form.text
    assert cookie_attributes(form, LOGIN_COOKIE)["httponly"]
    response = log_in(anonymous)
    assert response.status_code == 303 and response.headers["location"] == "/designer/"
    cookie = cookie_attributes(response, SESSION_COOKIE)
    assert cookie["httponly"] is True
    assert cookie["samesite"].lower() == "strict"
    assert cookie["path"] == "/designer"
    assert "secure" not in cookie  # plain http here; see the https test
    page = anonymous.get("/designer/")
    assert page.status_code == 200 and "Templates" in page.text and "dora" in page.text


def test_cookie_is_secure_over_https(app: Any) -> None:
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        assert cookie_attributes(log_in(client), SESSION_COOKIE)["secure"] is True


def test_no_session_redirects_get_and_refuses_post(anonymous: TestClient) -> None:
    for path in (
        "/designer/",
        "/designer/pages/home",
        "/designer/pages/home/preview",
        "/designer/segments",
        "/designer/pages/home/history",
    ):
        response = anonymous.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/designer/login"
    post = anonymous.post("/designer/pages/home", data={"action": "validate", "template": "{}"})
    assert post.status_code == 401 and "Templates of" not in post.text
    assert anonymous.get("/designer").status_code == 308


def test_user_token_gets_403_never_the_page(anonymous: TestClient) -> None:
    refused = log_in(anonymous, "u1", "user")
    assert refused.status_code == 403
    assert not any(SESSION_COOKIE in h for h in refused.headers.get_list("set-cookie"))
    # A user token smuggled into the cookie is no session (401); as a bearer header, 403.
    anonymous.cookies.set(SESSION_COOKIE, token("u1"), path="/designer")
    for response in (anonymous.get("/designer/"), anonymous.get("/designer/pages/home")):
        assert response.status_code == 401
        assert "live_version" not in response.text and "Edit home" not in response.text
    anonymous.cookies.clear()
    header = anonymous.get("/designer/pages/home", headers=bearer("u1"))
    assert header.status_code == 403 and "<textarea" not in header.text


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(token("dora", "designer", ttl=-3600), id="expired"),
        pytest.param(
            token("dora", "admin", secret="another-secret-0123456789-abcdefghij"), id="forged"
        ),
        pytest.param("not-a-token", id="garbage"),
    ],
)
def test_bad_session_cookie_is_401_and_cleared(anonymous: TestClient, bad: str) -> None:
    anonymous.cookies.set(SESSION_COOKIE, bad, path="/designer")
    response = anonymous.get("/designer/pages/home")
    assert response.status_code == 401 and "<textarea" not in response.text
    assert cookie_attributes(response, SESSION_COOKIE)["max-age"] == "0"
    form = anonymous.get("/designer/login")
    login = anonymous.post("/designer/login", data={"csrf_token": csrf_of(form.text), "token": bad})
    assert login.status_code == 401 and "not accepted" in login.text


def test_a_designer_bearer_token_opens_pages_and_its_own_forms(anonymous: TestClient) -> None:
    """Scripts use the console with a bearer header instead of a session: the page's CSRF
    token is bound to that token, so a form signed for another token is refused."""
    report = anonymous.get("/designer/pages/home/assessment", headers=DESIGNER)
    assert report.status_code == 200
    form = {"csrf_token": csrf_of(report.text), "result": "fail", "note": "by script"}
    other = bearer("dora", "admin")
    assert anonymous.post(MANUAL, headers=other, data=form).status_code == 403
    posted = anonymous.post(MANUAL, headers=DESIGNER, data=form)
    assert posted.status_code == 303
    again = anonymous.get("/designer/pages/home/assessment", headers=DESIGNER).text
    assert "Now: <strong>fail</strong> by dora: by script" in again


def test_an_expired_bearer_token_is_401_sign_in_again(anonymous: TestClient) -> None:
    expired = {"Authorization": f"Bearer {token('dora', 'designer', ttl=-3600)}"}
    response = anonymous.get("/designer/pages/home", headers=expired)
    assert response.status_code == 401 and "Sign in again" in response.text
    assert "<textarea" not in response.text


def test_a_form_that_is_not_utf8_is_400(anonymous: TestClient) -> None:
    report = anonymous.get("/designer/pages/home/assessment", headers=DESIGNER)
    body = f"csrf_token={csrf_of(report.text)}&result=pass&note=".encode() + b"\xff\xfe"
    response = anonymous.post(
        MANUAL,
        headers={**DESIGNER, "content-type": "application/x-www-form-urlencoded"},
        content=body,
    )
    assert response.status_code == 400 and "Bad form" in response.text
    after = anonymous.get("/designer/pages/home/assessment", headers=DESIGNER).text
    assert "Now: <strong>pass</strong>" not in after


def test_a_server_without_a_token_secret_answers_503_on_every_console_page(
    tmp_path: Path,
) -> None:
    with TestClient(make_app(tmp_path, jwt_secret=""), follow_redirects=False) as client:
        for path in ("/designer/", "/designer/login", "/designer/pages/home"):
            response = client.get(path)
            assert response.status_code == 503, path
            assert "no token secret" in response.text


def test_logout_clears_the_cookie(console: TestClient) -> None:
    csrf = csrf_of(console.get("/designer/").text)
    assert console.post("/designer/logout", data={}).status_code == 403
    response = console.post("/designer/logout", data={"csrf_token": csrf})
    assert response.status_code == 303 and response.headers["location"] == "/designer/login"
    assert cookie_attributes(response, SESSION_COOKIE)["max-age"] == "0"
    console.cookies.clear()
    assert console.get("/designer/").status_code == 303


# --------------------------------------------------------------------------- CSRF


def test_missing_or_wrong_csrf_is_403_and_publishes_nothing(console: TestClient, app: Any) -> None:
    version, _ = live(console)
    text = editor_text(console).replace('"搜索商品 Search products"', '"Find"')
    form = {"action": "publish", "template": text, "message": "sneaky"}
    missing = console.post("/designer/pages/home", data=form)
    assert missing.status_code == 403 and "CSRF" in missing.text
    # A token from another session (another designer's) does not fit this cookie.
    with TestClient(app, follow_redirects=False) as other:
        log_in(other, "eve", "designer")
        foreign = csrf_of(other.get("/designer/").text)
    wrong = console.post("/designer/pages/home", data={**form, "csrf_token": foreign})
    assert wrong.status_code == 403
    assert live(console)[0] == version and len(history(console)) == 1
    # Every other form checks it too.
    old = {"csrf_token": "0" * 64}
    for path, data in (
        ("/designer/pages/home/rollback", {"version": version}),
        ("/designer/pages/home/preview", {"template": text}),
        ("/designer/segments", {"segments": '{"user": "x", "segments": ["churn_risk"]}'}),
        ("/designer/logout", {}),
    ):
        assert console.post(path, data=data).status_code == 403, path
        assert console.post(path, data={**data, **old}).status_code == 403, path
    assert len(history(console)) == 1
    export = console.get("/v1/me/data", headers=bearer("x")).json()["data"]
    assert "churn_risk" not in str(export)


def test_login_form_has_csrf_too(anonymous: TestClient) -> None:
    anonymous.get("/designer/login")
    response = anonymous.post("/designer/login", data={"token": token("dora", "designer")})
    assert response.status_code == 403
    assert not any(SESSION_COOKIE in h for h in response.headers.get_list("set-cookie"))


# --------------------------------------------------------------------------- escaping


def test_script_label_is_escaped_in_editor_and_preview(console: TestClient) -> None:
    _, template = live(console, "cart")
    hostile = copy.deepcopy(template)
    hostile["components"][0]["label"] = SCRIPT
    created = console.post(
        "/v1/admin/templates/cart/publish",
        json={"template": hostile, "message": SCRIPT},
        headers=DESIGNER,
    )
    assert created.status_code == 201
    for path in (
        "/designer/pages/cart",
        "/designer/pages/cart/preview",
        "/designer/pages/cart/history",
        "/designer/pages/cart/diff",
        "/designer/",
    ):
        html = console.get(path).text
        # Only this server's script files, and the editor's JSON data block (not executed;
        # `<` inside it escaped as \u003c, so a label cannot close it).
        html = re.sub(r'<script src="/designer/static/[\w/.-]+\.js" defer></script>', "", html)
        html = re.sub(
            r'<script type="application/json" id="designer-data">[^<]*</script>', "", html
        )
        assert "<script" not in html.lower(), path
    editor = console.get("/designer/pages/cart").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in editor
    preview = console.get("/designer/pages/cart/preview").text
    # Escaped once for the frame's document, once more for the srcdoc attribute.
    assert "&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;" in preview
    csp = console.get("/designer/pages/cart/preview").headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self';" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    draft = console.post(
        "/designer/pages/cart/preview",
        data={"csrf_token": csrf_of(editor), "template": editor_text(console, "cart")},
    )
    assert draft.status_code == 200 and "<script" not in draft.text.lower()


# --------------------------------------------------------------------------- editor


def test_validate_names_fields_and_lines(console: TestClient) -> None:
    csrf = csrf_of(console.get("/designer/pages/home").text)
    text = editor_text(console)
    ok = console.post(
        "/designer/pages/home", data={"csrf_token": csrf, "action": "validate", "template": text}
    )
    assert ok.status_code == 200 and "Valid: no schema or accessibility problems" in ok.text
    low = text.replace('"text": "#1F1F1F"', '"text": "#BBBBBB"', 1)
    bad = console.post(
        "/designer/pages/home", data={"csrf_token": csrf, "action": "validate", "template": low}
    )
    assert bad.status_code == 422
    assert "<code>theme.palette.text</code>" in bad.text and "contrast" in bad.text
    assert 'aria-invalid="true"' in bad.text and "#BBBBBB" in bad.text  # the draft is kept
    broken = console.post(
        "/designer/pages/home",
        data={
            "csrf_token": csrf,
            "action": "validate",
            "template": '{\n  "page": "home",\n  oops\n}',
        },
    )
    assert broken.status_code == 422 and "line 3, column 3" in broken.text
    yaml_text = "page: home\ntitle: Home\ntheme: {}\ncomponents: []\n"
    as_yaml = console.post(
        "/designer/pages/home",
        data={"csrf_token": csrf, "action": "validate", "template": yaml_text},
    )
    assert as_yaml.status_code == 422
    assert "a page needs at least one component" in as_yaml.text


def test_publish_refused_then_published_then_rolled_back(console: TestClient) -> None:
    version, _ = live(console)
    csrf = csrf_of(console.get("/designer/pages/home").text)
    text = editor_text(console)
    low = text.replace('"text": "#1F1F1F"', '"text": "#BBBBBB"', 1)
    refused = console.post(
        "/designer/pages/home",
        data={"csrf_token": csrf, "action": "publish", "template": low, "message": "grey text"},
    )
    assert refused.status_code == 422
    assert "Publish refused" in refused.text and "theme.palette.text" in refused.text
    assert live(console)[0] == version

    no_message = console.post(
        "/designer/pages/home",
        data={"csrf_token": csrf, "action": "publish", "template": text, "message": " "},
    )
    assert no_message.status_code == 422 and "<code>message</code>" in no_message.text

    changed = text.replace('"搜索商品 Search products"', '"搜索 Search"').replace(
        '"title": "鲜到家 FreshMart 首页 Home"', '"title": "FreshMart Home"', 1
    )
    form = {"csrf_token": csrf, "action": "publish", "template": changed, "message": "shorter"}
    asked = console.post("/designer/pages/home", data=form)
    assert asked.status_code == 200 and "Confirm publish" in asked.text  # nothing yet
    assert live(console)[0] == version and "搜索 Search" in asked.text
    published = console.post("/designer/pages/home", data={**form, "confirm": "yes"})
    assert published.status_code == 303
    new_version = live(console)[0]
    assert new_version != version
    assert f"version {new_version} is live" in console.get(published.headers["location"]).text
    assert history(console)[0] | {"created": 0} == {
        "version": new_version,
        "seq": 2,
        "author": "dora",
        "message": "shorter",
        "created": 0,
        "live": True,
        "share": 100,
    }

    page = console.get("/designer/pages/home/history").text
    assert "shorter" in page and "dora" in page and "Roll back" in page
    diff = console.get(f"/designer/pages/home/diff?from={version}&to={new_version}").text
    assert "搜索 Search" in diff and "<code>components[search].label</code>" in diff
    assert "<code>title</code>" in diff and "FreshMart Home" in diff
    assert '<label for="from">' in diff and '<label for="to">' in diff

    asked = console.post(
        "/designer/pages/home/rollback", data={"csrf_token": csrf, "version": version}
    )
    assert asked.status_code == 200 and "Confirm rollback" in asked.text
    assert live(console)[0] == new_version
    rolled = console.post(
        "/designer/pages/home/rollback",
        data={"csrf_token": csrf, "version": version, "confirm": "yes"},
    )
    assert rolled.status_code == 303
    assert live(console)[0] == version and len(history(console)) == 3
    assert "is live again" in console.get(rolled.headers["location"]).text
    unknown = console.post(
        "/designer/pages/home/rollback", data={"csrf_token": csrf, "version": "f" * 16}
    )
    assert unknown.status_code == 404


def test_unchanged_editor_text_is_the_live_version(console: TestClient) -> None:
    """The editor shows the template compactly; publishing it untouched changes nothing."""
    version, _ = live(console)
    csrf = csrf_of(console.get("/designer/pages/home").text)
    response = console.post(
        "/designer/pages/home",
        data={
            "csrf_token": csrf,
            "action": "publish",
            "template": editor_text(console),
            "message": "no-op",
            "confirm": "yes",
        },
    )
    assert response.status_code == 303
    assert live(console)[0] == version and len(history(console)) == 1


def test_unknown_page_is_404(console: TestClient) -> None:
    assert console.get("/designer/pages/nope").status_code == 404
    assert console.get("/designer/pages/nope/history").status_code == 404


# --------------------------------------------------------------------------- preview


def test_preview_shows_every_persona_with_its_explanation(console: TestClient) -> None:
    html = console.get("/designer/pages/home/preview").text
    for title in (
        "Default",
        "Elderly (60+)",
        "Low vision",
        "Screen reader",
        "Personalization off",
        "Churn risk",
    ):
        assert f"home as {title}" in html, title
    assert html.count("<iframe") == 6
    assert html.count("Change ratio vs base") == 6 and html.count("Cap bound") == 6
    assert "segment:churn_risk" in html  # the churn-risk persona's change and its reason
    assert "elderly:min_font" in html


def test_draft_preview_before_publishing(console: TestClient) -> None:
    version, _ = live(console)
    csrf = csrf_of(console.get("/designer/pages/home").text)
    text = editor_text(console).replace('"搜索商品 Search products"', '"Draft search"')
    response = console.post(
        "/designer/pages/home/preview", data={"csrf_token": csrf, "template": text}
    )
    assert response.status_code == 200
    assert "draft, not published" in response.text and "Draft search" in response.text
    assert live(console)[0] == version
    low = text.replace('"text": "#1F1F1F"', '"text": "#BBBBBB"', 1)
    refused = console.post(
        "/designer/pages/home/preview", data={"csrf_token": csrf, "template": low}
    )
    assert refused.status_code == 422 and "theme.palette.text" in refused.text


@pytest.mark.parametrize(
    ("path", "named"),
    [
        *unbuildable_personas("preview?"),
        pytest.param("preview?compare=alien", "compare", id="compare-alone"),
        pytest.param("preview?heatmap=banana", "heatmap", id="heatmap"),
        pytest.param("preview?source=banana", "source", id="source"),
        pytest.param("diff?persona=alien", "persona", id="diff-persona"),
    ],
)
def test_malformed_preview_query_values_are_422_pages(
    console: TestClient, path: str, named: str
) -> None:
    """A persona the query cannot build is the caller's error, as the API says (422), never a
    200 with an error in a panel, and never silently ignored."""
    response = console.get(f"/designer/pages/home/{path}")
    assert response.status_code == 422, response.text
    assert "text/html" in response.headers["content-type"]
    assert named in response.text and "<iframe" not in response.text


def test_well_formed_preview_query_values_still_answer(console: TestClient) -> None:
    for path in (
        "preview?persona=elderly&font_scale=1.5&compare=off",
        "preview?source=live&heatmap=1",
        "preview?source=&heatmap=&compare=",  # the builder's blank fields: the defaults
        "diff?persona=elderly",
    ):
        assert console.get(f"/designer/pages/home/{path}").status_code == 200, path


def test_archiving_an_archived_page_is_a_409_page_naming_the_state(console: TestClient) -> None:
    """A second submit of the archive form (another tab, a double click) was a 404 "no page"."""
    csrf = csrf_of(console.get("/designer/pages/cart/history").text)
    form = {"csrf_token": csrf, "confirm": "yes"}
    assert console.post("/designer/pages/cart/archive", data=form).status_code == 303
    again = console.post("/designer/pages/cart/archive", data=form)
    assert again.status_code == 409, again.text
    assert "text/html" in again.headers["content-type"]
    assert "Already archived" in again.text and "archived by dora" in again.text
    assert console.post("/designer/pages/nowhere/archive", data=form).status_code == 404


def test_an_archived_pages_tabs_say_it_is_archived_not_that_it_is_not_there(
    console: TestClient,
) -> None:
    """Its history page links its Editor, Preview and Assessment tabs; each said "no page
    'cart'" of a page the designer was looking at, so also the admin API."""
    csrf = csrf_of(console.get("/designer/pages/cart/history").text)
    form = {"csrf_token": csrf, "confirm": "yes"}
    assert console.post("/designer/pages/cart/archive", data=form).status_code == 303
    for tab in ("", "/preview", "/assessment"):
        page = console.get(f"/designer/pages/cart{tab}")
        assert page.status_code == 404, (tab, page.status_code)
        assert "is archived" in page.text and "no page" not in page.text, tab
    api = console.get("/v1/admin/templates/cart", headers=bearer("dora", "designer"))
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
    assert "is archived" in api.json()["error"]["message"]
    assert "no page &#39;nowhere&#39;" in console.get("/designer/pages/nowhere").text


def test_a_diff_version_the_page_lacks_is_404_even_with_one_version(console: TestClient) -> None:
    """`to` was ignored (a 200) while the page had one version; `from` was already a 404."""
    for field in ("to", "from"):
        response = console.get(f"/designer/pages/home/diff?{field}=banana")
        assert response.status_code == 404, (field, response.text)
        assert "has no version" in response.text


# --------------------------------------------------------------------------- segments


def test_variants_and_segment_import(console: TestClient) -> None:
    page = console.get("/designer/segments")
    assert page.status_code == 200
    assert "home_deals_position_v1" in page.text and page.text.count("50%") == 4
    assert page.text.count("<td>5000</td>") == 2  # each variant's buckets: the weights exactly
    csrf = csrf_of(page.text)
    lines = "\n".join(f'{{"user": "s{i}", "segments": ["churn_risk"]}}' for i in range(50))
    done = console.post("/designer/segments", data={"csrf_token": csrf, "segments": lines})
    assert done.status_code == 200 and "Imported segments for 50 user(s)" in done.text
    layout = console.get("/v1/layouts/home", headers=bearer("s7")).json()
    assert "welcome_back" in [c["id"] for c in layout["components"]]
    bad = console.post(
        "/designer/segments",
        data={"csrf_token": csrf, "segments": '{"user": "z", "segments": ["a"]}\n{"user": 3}'},
    )
    assert bad.status_code == 422 and "line 2" in bad.text
    assert "churn_risk" not in str(console.get("/v1/me/data", headers=bearer("z")).json())


def test_security_headers(console: TestClient) -> None:
    response = console.get("/designer/")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    css = console.get("/designer/static/console.css")
    assert css.status_code == 200 and "focus-visible" in css.text


def test_preview_panel_shows_an_engine_refusal(
    console: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from uiserver.engine.check import LayoutRuleError
    from uiserver.publishing.publisher import Publisher

    real = Publisher.preview

    def refuse_elderly(
        self: Publisher, template: Any, version: str, profile: Any, context: Any, day: int
    ) -> Any:
        if profile.settings.age_band == "60_plus":
            raise LayoutRuleError("ads are not shown in elderly mode")
        return real(self, template, version, profile, context, day)

    monkeypatch.setattr(Publisher, "preview", refuse_elderly)
    html = console.get("/designer/pages/home/preview").text
    assert "No layout for this persona" in html and "ads are not shown" in html
    assert html.count("<iframe") == 5


# --------------------------------------------------------------------------- input limits

DEEP_JSON = '{"page": "home", "props": ' + '{"a":' * 1_000 + "1" + "}" * 1_000 + "}"
DEEP_YAML = "page: home\nprops: " + "[" * 1_000 + "]" * 1_000 + "\n"


@pytest.mark.parametrize(
    "text", [pytest.param(DEEP_JSON, id="json"), pytest.param(DEEP_YAML, id="yaml")]
)
@pytest.mark.parametrize("action", ["validate", "publish", "preview"])
def test_deeply_nested_drafts_are_refused(console: TestClient, text: str, action: str) -> None:
    version, _ = live(console)
    csrf = csrf_of(console.get("/designer/pages/home").text)
    path = "/designer/pages/home/preview" if action == "preview" else "/designer/pages/home"
    response = console.post(
        path, data={"csrf_token": csrf, "action": action, "template": text, "message": "deep"}
    )
    assert response.status_code == 400
    assert "nested deeper than 64 levels" in response.text
    assert live(console)[0] == version


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_in_json_drafts_are_refused(console: TestClient, number: str) -> None:
    version, _ = live(console)
    csrf = csrf_of(console.get("/designer/pages/home").text)
    text, replaced = re.subn(
        r'"font_px": 16(\.0)?,', f'"font_px": {number},', editor_text(console), count=1
    )
    assert replaced == 1
    response = console.post(
        "/designer/pages/home",
        data={"csrf_token": csrf, "action": "publish", "template": text, "message": "nan"},
    )
    assert response.status_code == 422 and "not valid JSON" in response.text
    assert live(console)[0] == version


@pytest.mark.parametrize("number", [".nan", ".inf", "-.inf"])
def test_non_finite_numbers_in_yaml_drafts_are_refused(console: TestClient, number: str) -> None:
    version, template = live(console)
    csrf = csrf_of(console.get("/designer/pages/home").text)
    text = re.sub(r"font_px: 16(\.0)?\n", f"font_px: {number}\n", yaml.safe_dump(template), count=1)
    assert f"font_px: {number}\n" in text
    response = console.post(
        "/designer/pages/home",
        data={"csrf_token": csrf, "action": "publish", "template": text, "message": "nan"},
    )
    assert response.status_code == 400 and "not a finite number" in response.text
    assert live(console)[0] == version


def test_a_large_chinese_template_the_api_accepts_validates_in_the_editor(
    console: TestClient,
) -> None:
    """A template within the API's 1 MiB document limit, mostly Chinese (760 kB of UTF-8,
    2.3 MB once the form percent-encodes it): before, the editor's form limit (2 MiB) answered
    a bare "Too large" page, the typed text gone; now the editor checks it like the API does,
    and a template over the document limit comes back in the editor with the problem named."""
    template: dict[str, Any] = console.get("/v1/admin/templates/me", headers=DESIGNER).json()[
        "template"
    ]
    template["description"] = "长辈版说明" * 50_000
    text = json.dumps(template, ensure_ascii=False, indent=2)
    api = console.post(
        "/v1/admin/templates/me/validate", json={"template": template}, headers=DESIGNER
    )
    assert api.status_code == 200 and api.json()["ok"], api.text
    csrf = csrf_of(console.get("/designer/pages/me").text)
    form = {"csrf_token": csrf, "template": text, "action": "validate"}
    response = console.post("/designer/pages/me", data=form)
    assert response.status_code == 200, response.text[:500]
    assert "Valid: no schema or accessibility problems." in response.text
    assert "长辈版说明" * 100 in response.text  # the draft is in the editor
    template["description"] = "long " * 220_000  # 1.1 MB: over the document limit
    over = json.dumps(template, ensure_ascii=False)
    response = console.post("/designer/pages/me", data={**form, "template": over})
    assert response.status_code == 400, response.text[:500]
    assert "long " * 100 in response.text and "over 1048576 bytes" in response.text


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/designer/nothing", 404),
        ("GET", "/designer/pages/home/x", 404),
        ("GET", "/designer/pages/home%2Fx", 404),  # %2F in a page name: decoded into the path
        ("GET", "/designer/pages/", 404),
        ("PUT", "/designer/pages/home", 405),
        ("DELETE", "/designer/audit", 405),
    ],
)
def test_an_address_no_console_page_takes_is_a_page(
    tmp_path: Path, method: str, path: str, status: int
) -> None:
    """Under /designer a 404 or 405 is the console's HTML page (a designer's browser shows it),
    with `Allow` on a 405; the API's paths keep their JSON."""
    with TestClient(make_app(tmp_path), follow_redirects=False) as console:
        assert log_in(console).status_code == 303
        response = console.request(method, path)
        assert response.status_code == status, response.text[:200]
        assert response.headers["content-type"].startswith("text/html"), response.text[:200]
        assert 'role="alert"' in response.text
        if status == 405:
            assert "GET" in response.headers["allow"]
        api = console.request(method, "/v1/admin/nothing")
        assert api.headers["content-type"] == "application/json"


def test_a_bug_behind_a_console_page_is_a_page(tmp_path: Path) -> None:
    """An unexpected error in a console route answers the console's 500 page with the request
    id it was logged under (issue 23: never a bare 500); the API's routes keep the JSON 500."""

    async def broken(*_: object) -> object:
        raise RuntimeError("a bug")

    app = make_app(tmp_path)
    with TestClient(app, follow_redirects=False, raise_server_exceptions=False) as console:
        assert log_in(console).status_code == 303
        app.service.audit.entries = broken  # type: ignore[attr-defined]
        page = console.get("/designer/audit", headers={"X-Request-Id": "bug-7"})
        assert page.status_code == 500
        assert page.headers["content-type"].startswith("text/html"), page.text[:200]
        assert "request id bug-7" in page.text and 'role="alert"' in page.text
        assert page.headers["connection"] == "close"
        api = console.get("/v1/admin/audit", headers=bearer("dora", "designer"))
        assert api.status_code == 500
        assert api.json()["error"]["code"] == "internal"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/designer/pages/nope", 404),
        ("/designer/pages/home/diff?from=zz&to=yy", 404),
        ("/designer/pages/home/preview?persona=zzz", 422),
        ("/designer/pages/home/history?x=1&x=2", 400),
        ("/designer/no/such/page", 404),
    ],
)
def test_an_error_page_sends_a_signed_in_designer_back_not_to_sign_in(
    console: TestClient, path: str, status: int
) -> None:
    # Every error page offered "Go to sign in" to a designer who was signed in and had only
    # mistyped an address; signing in again is for a session or role problem (401, 403).
    page = console.get(path)
    assert page.status_code == status
    assert "Back to templates" in page.text and "Go to sign in" not in page.text
    # A console route that had resolved the session (the repeated query is refused before any)
    if path.startswith("/designer/pages/") and status != 400:
        assert "Signed in as <strong>dora</strong>" in page.text and "Sign out" in page.text


def test_an_error_page_of_a_session_problem_offers_sign_in(anonymous: TestClient) -> None:
    expired = {"Authorization": f"Bearer {token('dora', 'designer', ttl=-3600)}"}
    page = anonymous.get("/designer/pages/home", headers=expired)
    assert page.status_code == 401 and "Go to sign in" in page.text
    user = anonymous.get("/designer/pages/home", headers=bearer("ann"))
    assert user.status_code == 403 and "Go to sign in" in user.text
