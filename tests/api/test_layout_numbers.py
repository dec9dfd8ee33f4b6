"""The layout's own numbers: anonymous callers get no personalization and say so,
ratios on the wire are rounded, and the theme carries the locale's writing direction."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.helpers.app import bearer, log_in, make_app

PAGES = ["home", "product", "cart"]
RATIO = re.compile(rb'"(strength|cap|changed_ratio)":(-?[0-9.eE+-]+)')


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(tmp_path)) as test_client:
        yield test_client


def settings(personalization: float) -> dict[str, object]:
    return {
        "elderly_mode": "auto",
        "font_scale": 1.0,
        "high_contrast": False,
        "reduce_motion": False,
        "screen_reader": False,
        "handedness": "left",
        "personalization": personalization,
        "age_band": "unknown",
    }


def ratios(body: bytes) -> dict[str, bytes]:
    return {name.decode(): raw for name, raw in RATIO.findall(body)}


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_layouts_report_no_personalization(client: TestClient, page: str) -> None:
    """The issue's input: anonymous layouts said `strength 1.0, cap 0.4`."""
    info = client.get(f"/v1/layouts/{page}").json()["personalization"]
    assert (info["strength"], info["cap"], info["changed_ratio"]) == (0.0, 0.0, 0.0)
    assert info["capped"] is False and info["changes"] == []


def test_anonymous_layout_is_the_base_of_a_signed_in_user_with_personalization_off(
    client: TestClient,
) -> None:
    """Same bytes (a page without A/B variants: a user is bucketed, anonymous is not)."""
    headers = bearer("off")
    client.put("/v1/me/settings", headers=headers, json={**settings(0.0), "handedness": "unknown"})
    events = [{"page": "cart", "component": "coupons", "kind": "click"}] * 12
    client.post("/v1/me/events", headers=headers, json={"events": events})
    assert (
        client.get("/v1/layouts/cart", headers=headers).content
        == client.get("/v1/layouts/cart").content
    )


@pytest.mark.parametrize(
    ("strength", "cap"),
    [
        pytest.param(0.1, b"0.04", id="0.1"),  # 0.4 x 0.1 = 0.04000000000000001 in floats
        pytest.param(0.3, b"0.12", id="0.3"),  # 0.12000000000000001
        pytest.param(0.7, b"0.28", id="0.7"),  # 0.27999999999999997
        pytest.param(0.123456, b"0.0494", id="0.123456"),
        pytest.param(1.0, b"0.4", id="1.0"),
    ],
)
def test_ratios_on_the_wire_are_rounded(client: TestClient, strength: float, cap: bytes) -> None:
    user = f"s{strength}"
    headers = bearer(user)
    assert (
        client.put("/v1/me/settings", headers=headers, json=settings(strength)).status_code == 200
    )
    events = [{"page": "home", "component": "coupons", "kind": "click"}] * 12
    client.post("/v1/me/events", headers=headers, json={"events": events})
    body = client.get("/v1/layouts/home", headers=headers).content
    found = ratios(body)
    assert found["cap"] == cap, body
    for name, raw in found.items():
        assert len(raw.partition(b".")[2]) <= 4 and b"e" not in raw.lower(), (name, raw)
    info = client.get("/v1/layouts/home", headers=headers).json()["personalization"]
    assert info["changed_ratio"] <= info["cap"]


@pytest.mark.parametrize(
    ("locale", "direction"),
    [
        pytest.param("ar-SA", "rtl", id="arabic"),
        pytest.param("he-IL", "rtl", id="hebrew"),
        pytest.param("fa", "rtl", id="persian"),
        pytest.param("az-Arab", "rtl", id="azerbaijani-arabic-script"),
        pytest.param("ur-Latn", "ltr", id="urdu-latin-script"),
        pytest.param("en-US", "ltr", id="english"),
        pytest.param("zh-CN", "ltr", id="chinese"),
        pytest.param(None, "ltr", id="no-locale"),
        # Extensions and private use say nothing about the direction (RFC 5646, RFC 6067).
        pytest.param("ar-SA-u-nu-latn", "rtl", id="arabic-latin-digits"),
        pytest.param("en-US-u-nu-arab", "ltr", id="english-arabic-digits"),
        pytest.param("he-IL-u-nu-latn", "rtl", id="hebrew-latin-digits"),
        pytest.param("zh-CN-x-arab", "ltr", id="chinese-private-use-arab"),
        pytest.param("pa-PK", "rtl", id="punjabi-in-pakistan"),
        pytest.param("ar-SA-%21", "ltr", id="malformed"),
    ],
)
def test_theme_direction_follows_the_locale(
    client: TestClient, locale: str | None, direction: str
) -> None:
    query = "" if locale is None else f"?locale={locale}"
    for headers in ({}, bearer("dir-user")):
        theme = client.get(f"/v1/layouts/home{query}", headers=headers).json()["theme"]
        assert theme["direction"] == direction


def test_rtl_and_ltr_layouts_are_different_bodies(client: TestClient) -> None:
    rtl = client.get("/v1/layouts/home?locale=ar-SA")
    ltr = client.get("/v1/layouts/home?locale=en-US")
    assert rtl.headers["etag"] != ltr.headers["etag"]


def test_preview_sets_dir_from_the_layout(client: TestClient) -> None:
    designer = bearer("ann", "designer")
    layout = client.get(
        "/v1/admin/preview/home?persona=default&format=json&locale=ar-SA", headers=designer
    ).json()
    assert layout["theme"]["direction"] == "rtl"
    html = client.get(
        "/v1/admin/preview/home?persona=default&format=html&locale=ar-SA", headers=designer
    ).text
    assert '<html lang="ar-SA" dir="rtl">' in html


LOCALES = [
    pytest.param("ar-SA-u-nu-latn", "rtl", id="arabic-latin-digits"),
    pytest.param("en-US-u-nu-arab", "ltr", id="english-arabic-digits"),
    pytest.param("fa-IR-u-nu-latn-x-ltr", "rtl", id="persian-private-use"),
    pytest.param("de-DE-x-hebr", "ltr", id="german-private-use-hebr"),
]


@pytest.mark.parametrize(("locale", "direction"), LOCALES)
def test_h5_preview_follows_the_tags_language(
    client: TestClient, locale: str, direction: str
) -> None:
    designer = bearer("ann", "designer")
    query = f"persona=default&locale={locale}"
    layout = client.get(f"/v1/admin/preview/home?{query}&format=json", headers=designer).json()
    assert layout["theme"]["direction"] == direction
    html = client.get(f"/v1/admin/preview/home?{query}&format=html", headers=designer).text
    assert f'data-direction="{direction}"' in html
    assert (f'<html lang="{locale}" dir="rtl">' in html) == (direction == "rtl")


@pytest.mark.parametrize(("locale", "direction"), LOCALES)
def test_console_preview_follows_the_tags_language(
    tmp_path: Path, locale: str, direction: str
) -> None:
    with TestClient(make_app(tmp_path), follow_redirects=False) as console:
        assert log_in(console).status_code == 303
        html = console.get(f"/designer/pages/home/preview?persona=default&locale={locale}").text
    # Each persona's phone is an iframe whose srcdoc is the H5 document (escaped).
    shown = set(re.findall(r"data-direction=&#34;(\w+)&#34;", html))
    assert shown == {direction}


def test_openapi_layout_theme_has_direction(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["LayoutTheme"]["properties"]["direction"]["enum"] == ["ltr", "rtl"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("width=\u0663\u0669\u0660", "width"),  # Arabic-Indic 390: int() read it
        ("font_px=1_6", "font_px"),  # float() reads underscores
        ("width=%20390", "width"),  # and spaces around the digits
        ("width=" + "1" * 5000, "width"),
        ("font_px=\uff11\uff16", "font_px"),  # full-width 16
    ],
    ids=["arabic-indic", "underscore", "space", "5000-digits", "full-width"],
)
def test_context_numbers_are_ascii(client: TestClient, query: str, field: str) -> None:
    """A context number is what JSON would write, in ASCII; anything else is the 400 naming
    it (before, '٣٩٠' and '1_6' were served as 390 and 16)."""
    response = client.get(f"/v1/layouts/home?{query}")
    assert response.status_code == 400, response.text[:200]
    assert response.json()["error"] == {
        "code": "bad_query",
        "message": f"{field} must be a number",
        "field": field,
    }


@pytest.mark.parametrize("query", ["width=390", "font_px=16.5", "font_px=1.6e1", "width=-0"])
def test_context_numbers_as_json_writes_them(client: TestClient, query: str) -> None:
    assert client.get(f"/v1/layouts/home?{query}").status_code == 200
