"""HTTP semantics: Accept-Encoding per RFC 9110 12.5.3, one strong ETag
per representation and If-None-Match, no redirect built from Host, `Allow` on every 405, no
echo of huge names, and an OpenAPI document that says what the server does."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from tests.helpers.app import bearer, make_app
from uiserver.http.layouts import LayoutApp
from uiserver.http.negotiation import choose, matching_tag, parse_accept_encoding
from uiserver.schema import Context

DESIGNER = bearer("dora", "designer")
LAYOUT = "/v1/layouts/home"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with TestClient(
        make_app(tmp_path_factory.mktemp("http")), raise_server_exceptions=False
    ) as test_client:
        yield test_client


def error_of(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- Accept-Encoding

GZIP, IDENTITY, REFUSED = "gzip", "identity", 406
ENCODINGS = [
    pytest.param("gzip;q=0, identity", IDENTITY, id="gzip-q0-identity"),  # the input
    pytest.param("gzip;q=0", IDENTITY, id="gzip-q0"),
    pytest.param("gzip", GZIP, id="gzip"),
    pytest.param("GZIP;q=1.0", GZIP, id="GZIP-q1.0"),
    pytest.param("Gzip ; Q=0.5", GZIP, id="mixed-case-spaces"),
    pytest.param("x-gzip", GZIP, id="x-gzip"),
    pytest.param("gzip, deflate, br", GZIP, id="browser"),
    pytest.param("br;q=1, gzip;q=0.5", GZIP, id="br-preferred-gzip-available"),
    pytest.param("br", IDENTITY, id="br-only"),
    pytest.param("deflate, br, zstd", IDENTITY, id="no-gzip"),
    pytest.param("*", GZIP, id="star"),
    pytest.param("*;q=0.5", GZIP, id="star-half"),
    pytest.param("*;q=0", REFUSED, id="star-q0"),
    pytest.param("*;q=0, gzip", GZIP, id="star-q0-gzip"),
    pytest.param("*;q=0, identity", IDENTITY, id="star-q0-identity"),
    pytest.param("identity;q=0", REFUSED, id="identity-q0"),
    pytest.param("identity;q=0, gzip;q=0.1", GZIP, id="identity-q0-gzip"),
    pytest.param("identity;q=0, *", GZIP, id="identity-q0-star"),
    pytest.param("gzip;q=0, identity;q=0", REFUSED, id="both-q0"),
    pytest.param("gzip;q=0.5, identity", IDENTITY, id="identity-preferred"),
    pytest.param("gzip;q=1, identity;q=0.5", GZIP, id="gzip-preferred"),
    pytest.param("gzip;q=0.001", GZIP, id="gzip-q-tiny"),
    pytest.param("gzip;q=0.5", GZIP, id="gzip-half-identity-unlisted"),
    pytest.param("", IDENTITY, id="empty"),
    pytest.param("gzip;q=abc", IDENTITY, id="bad-q-ignored"),
    pytest.param("gzip;q=1.5", IDENTITY, id="q-over-1-ignored"),
    pytest.param("gzip;q=0.0001", IDENTITY, id="q-four-decimals-ignored"),
    pytest.param("nogzip", IDENTITY, id="substring-nogzip"),
    pytest.param("gzipx, xgzip;q=1", IDENTITY, id="substring-lookalikes"),
    pytest.param(" , ,gzip", GZIP, id="empty-members"),
    pytest.param("gzip;level=9", GZIP, id="other-parameter"),
]


@pytest.mark.parametrize(("header", "expected"), ENCODINGS)
def test_accept_encoding(client: TestClient, header: str, expected: str | int) -> None:
    plain = client.get(LAYOUT, headers={"Accept-Encoding": "identity"})
    assert len(plain.content) >= 1024  # worth compressing: the gzip column applies
    raw = client.get(LAYOUT, headers={"Accept-Encoding": header})
    if expected == REFUSED:
        assert raw.status_code == 406
        assert error_of(raw)["code"] == "not_acceptable"
        return
    assert raw.status_code == 200
    assert raw.headers.get("content-encoding", IDENTITY) == expected
    assert "Accept-Encoding" in raw.headers["vary"]
    assert raw.content == plain.content  # httpx decodes gzip: same layout either way
    tag = raw.headers["etag"]
    assert tag.endswith('-gz"') == (expected == GZIP)


@pytest.mark.parametrize(
    ("header", "large", "small"),
    [
        ("gzip", True, False),  # a small body is not worth compressing...
        ("identity;q=0, gzip", True, True),  # ...unless identity is refused
        ("gzip;q=1, identity;q=0.5", True, False),
        ("gzip;q=0.5, identity;q=0.5", True, False),
        ("gzip;q=0.5, identity", False, False),
        ("identity", False, False),
        ("*;q=0", None, None),
    ],
)
def test_choices_for_large_and_small_bodies(
    header: str, large: bool | None, small: bool | None
) -> None:
    assert choose(header.encode()) == (large, small)


def test_parse_keeps_codings_case_insensitive_with_q() -> None:
    assert parse_accept_encoding("GZIP;Q=0.5, Br, identity;q=0, *;q=0.1") == {
        "gzip": 0.5,
        "br": 1.0,
        "identity": 0.0,
        "*": 0.1,
    }


# --------------------------------------------------------------------------- ETags, 304


def _tags(client: TestClient) -> tuple[str, str]:
    plain = client.get(LAYOUT, headers={"Accept-Encoding": "identity"}).headers["etag"]
    zipped = client.get(LAYOUT, headers={"Accept-Encoding": "gzip"}).headers["etag"]
    return plain, zipped


def test_each_representation_has_its_own_strong_etag(client: TestClient) -> None:
    plain, zipped = _tags(client)
    assert plain != zipped
    for tag in (plain, zipped):
        assert tag.startswith('"') and tag.endswith('"') and not tag.startswith("W/")
    assert zipped == plain[:-1] + '-gz"'
    with client.stream("GET", LAYOUT, headers={"Accept-Encoding": "gzip"}) as raw:
        zipped_body = b"".join(raw.iter_raw())
    plain_body = client.get(LAYOUT, headers={"Accept-Encoding": "identity"}).content
    assert gzip.decompress(zipped_body) == plain_body != zipped_body


@pytest.mark.parametrize(
    ("accept", "held", "answer"),
    [
        pytest.param("gzip", "zipped", "zipped", id="gzip-client-holds-gzip"),
        pytest.param("identity", "plain", "plain", id="identity-client-holds-identity"),
        pytest.param("gzip", "plain", "plain", id="gzip-client-holds-identity"),
        pytest.param("identity", "zipped", "zipped", id="identity-client-holds-gzip"),
        pytest.param("gzip", "W/zipped", "zipped", id="weak-prefix"),
        pytest.param("gzip", '"nope", W/plain', "plain", id="list-with-weak"),
        pytest.param("gzip", "plain, zipped", "zipped", id="both-listed-selected-wins"),
        pytest.param("gzip", "*", "zipped", id="star"),
        pytest.param("identity", " * ", "plain", id="star-spaces"),
    ],
)
def test_if_none_match_answers_304_with_the_tag_held(
    client: TestClient, accept: str, held: str, answer: str
) -> None:
    plain, zipped = _tags(client)
    header = held.replace("zipped", zipped).replace("plain", plain)
    response = client.get(LAYOUT, headers={"Accept-Encoding": accept, "If-None-Match": header})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == (zipped if answer == "zipped" else plain)
    assert response.headers["cache-control"].startswith("private, max-age=")
    assert "Accept-Encoding" in response.headers["vary"]


@pytest.mark.parametrize("header", ['"other"', 'W/"other"', '"abc-gz"', "", "garbage"])
def test_if_none_match_with_another_tag_is_200(client: TestClient, header: str) -> None:
    response = client.get(LAYOUT, headers={"If-None-Match": header, "Accept-Encoding": "gzip"})
    assert response.status_code == 200 and response.content


def test_head_uses_the_same_representation(client: TestClient) -> None:
    get = client.get(LAYOUT, headers={"Accept-Encoding": "gzip"})
    head = client.head(LAYOUT, headers={"Accept-Encoding": "gzip"})
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == get.headers["etag"]
    assert head.headers["content-encoding"] == "gzip"


def test_matching_tag_unit() -> None:
    assert matching_tag(b'"a"', b'"a"', b'"a-gz"') == b'"a"'
    assert matching_tag(b'"a-gz"', b'"a"', b'"a-gz"') == b'"a-gz"'
    assert matching_tag(b'W/"a-gz" , "x"', b'"a"', b'"a-gz"') == b'"a-gz"'
    assert matching_tag(b'"b"', b'"a"', b'"a-gz"') is None


# --------------------------------------------------------------------------- redirects


@pytest.mark.parametrize(
    "path",
    [
        "/v1/me/settings/",  # the input
        "/v1/me/events/",
        "/v1/me/data/",
        "/v1/me/",
        "/v1/admin/templates/",
        "/v1/admin/templates/home/",
        "/v1/admin/templates/home/history/",
        "/healthz/",
        "/readyz/",
        "/metrics/",
        "/openapi.json/",
        "/v1/layouts/home/",
        "/designer",
        "/designer/login/",
        "//evil.example/v1/me/settings",
        "/designer/static/",
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST", "PUT"])
def test_no_redirect_follows_the_host_header(client: TestClient, path: str, method: str) -> None:
    response = client.request(
        method, path, headers={**DESIGNER, "Host": "evil.example"}, follow_redirects=False
    )
    location = response.headers.get("location", "")
    assert "evil.example" not in location, (response.status_code, location)
    if 300 <= response.status_code < 400:
        assert location.startswith("/") and not location.startswith("//"), location


def test_a_trailing_slash_is_a_json_404(client: TestClient) -> None:
    response = client.get(
        "/v1/me/settings/", headers={**bearer("u"), "Host": "evil.example"}, follow_redirects=False
    )
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


# --------------------------------------------------------------------------- 405 Allow


def _documented_methods() -> dict[str, set[str]]:
    from uiserver.http.openapi import openapi_document

    return {path: {m.upper() for m in ops} for path, ops in openapi_document()["paths"].items()}


METHODS = ["GET", "PUT", "POST", "DELETE", "PATCH"]


@pytest.mark.parametrize("path", sorted(_documented_methods()))
def test_every_405_carries_allow(client: TestClient, path: str) -> None:
    documented = _documented_methods()[path]
    concrete = path.replace("{page}", "home")
    for method in METHODS:
        if method in documented:
            continue
        response = client.request(method, concrete, headers=DESIGNER)
        if response.status_code != 405:  # a method added since (PATCH by another issue)
            continue
        allow = {m.strip() for m in response.headers["allow"].split(",")}
        assert documented <= allow, (method, allow)
        assert method not in allow
        if "GET" in documented:
            assert "HEAD" in allow
        assert error_of(response)["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", LAYOUT, {"GET", "HEAD"}),  # the pure-ASGI path's fallback
        ("POST", LAYOUT, {"GET", "HEAD"}),
        ("POST", "/v1/me/settings", {"GET", "HEAD", "PUT"}),  # two routes, one path
        ("GET", "/v1/me/events", {"POST"}),
        ("GET", "/v1/me", {"DELETE"}),
        ("POST", "/healthz", {"GET", "HEAD"}),
        ("PUT", "/designer/static/console.css", {"GET", "HEAD"}),
        ("DELETE", "/designer/login", {"GET", "HEAD", "POST"}),
    ],
)
def test_405_allow_values(client: TestClient, method: str, path: str, allow: set[str]) -> None:
    response = client.request(method, path, headers=DESIGNER)
    assert response.status_code == 405
    got = {m.strip() for m in response.headers["allow"].split(",")}
    assert allow <= got and method not in got, got


# --------------------------------------------------------------------------- echoes


@pytest.mark.parametrize(
    "path",
    [
        "/v1/layouts/{}",
        "/v1/admin/templates/{}",
        "/v1/admin/preview/{}",
        "/v1/admin/templates/{}/history",
    ],
)
def test_an_unknown_page_404_does_not_echo_an_8000_character_name(
    client: TestClient, path: str
) -> None:
    name = "x" * 8000
    response = client.get(path.format(name), headers=DESIGNER)
    assert response.status_code == 404
    assert len(response.content) < 500, len(response.content)
    assert "x" * 100 not in response.text
    assert "8000 characters" in error_of(response)["message"]


def test_a_short_unknown_page_is_named(client: TestClient) -> None:
    response = client.get("/v1/layouts/nope")
    assert response.status_code == 404 and "'nope'" in error_of(response)["message"]


# --------------------------------------------------------------------------- OpenAPI


@pytest.fixture(scope="module")
def openapi(client: TestClient) -> dict[str, Any]:
    return client.get("/openapi.json").json()  # type: ignore[no-any-return]


def _param(doc: dict[str, Any], name: str) -> dict[str, Any]:
    params = doc["paths"]["/v1/layouts/{page}"]["get"]["parameters"]
    found: dict[str, Any] = next(p["schema"] for p in params if p["name"] == name)
    return found


def test_openapi_width_bounds_are_the_servers(client: TestClient, openapi: dict[str, Any]) -> None:
    width = _param(openapi, "width")
    assert width["maximum"] == 10_000 and width["minimum"] == 0
    assert client.get(f"{LAYOUT}?width={width['maximum']}").status_code == 200
    assert client.get(f"{LAYOUT}?width={width['minimum']}").status_code == 200
    too_wide = client.get(f"{LAYOUT}?width={width['maximum'] + 1}")
    assert too_wide.status_code == 400 and error_of(too_wide)["field"] == "width"
    assert client.get(f"{LAYOUT}?width={width['minimum'] - 1}").status_code == 400
    font = _param(openapi, "font_px")
    assert client.get(f"{LAYOUT}?font_px={font['maximum'] + 1}").status_code == 400
    assert Context.__struct_fields__  # the parameters come from this Struct


def _operations(openapi: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in openapi["paths"].items():
        for method, op in ops.items():
            yield method.upper(), path.replace("{page}", "home"), op


def test_openapi_documents_401_where_a_bad_token_gets_it(
    client: TestClient, openapi: dict[str, Any]
) -> None:
    for method, path, op in _operations(openapi):
        response = client.request(
            method, path, headers={"Authorization": "Bearer x.y.z"}, content=b"{}"
        )
        if response.status_code == 401:
            assert "401" in op["responses"], (method, path)


def test_openapi_documents_403_for_a_user_token(
    client: TestClient, openapi: dict[str, Any]
) -> None:
    for method, path, op in _operations(openapi):
        response = client.request(method, path, headers=bearer("u"), content=b"{}")
        if response.status_code == 403:
            assert "403" in op["responses"], (method, path)


@pytest.mark.parametrize("body", [b"{", b"[" * 1000, b'{"x": NaN}', b"\xff\xfe"])
def test_openapi_documents_400_where_a_bad_body_gets_it(
    client: TestClient, openapi: dict[str, Any], body: bytes
) -> None:
    for method, path, op in _operations(openapi):
        if "requestBody" not in op:
            continue
        headers = {
            **(DESIGNER if "/admin/" in path else bearer("u")),
            "content-type": "application/json",
        }
        response = client.request(method, path, headers=headers, content=body)
        assert response.status_code < 500, (method, path, response.text)
        assert str(response.status_code) in op["responses"], (method, path, response.status_code)


def test_openapi_documents_the_html_preview(client: TestClient, openapi: dict[str, Any]) -> None:
    documented = openapi["paths"]["/v1/admin/preview/{page}"]["get"]["responses"]["200"]
    response = client.get("/v1/admin/preview/home?format=html", headers=DESIGNER)
    assert response.status_code == 200
    media = response.headers["content-type"].split(";")[0]
    assert media == "text/html" and media in documented["content"]
    assert "application/json" in documented["content"]


def test_openapi_documents_406(client: TestClient, openapi: dict[str, Any]) -> None:
    response = client.get(LAYOUT, headers={"Accept-Encoding": "*;q=0"})
    assert response.status_code == 406
    assert "406" in openapi["paths"]["/v1/layouts/{page}"]["get"]["responses"]


def test_every_api_route_is_in_the_openapi_document(
    openapi: dict[str, Any], tmp_path: Path
) -> None:
    """The document drives the schemathesis fuzzing (`tests/process/test_fuzz_api.py`): a route
    left out of it is never fuzzed. Before, the phone preview's two routes
    (`POST /v1/admin/preview-tokens/{page}`, `GET /v1/preview/layouts/{page}`) were missing.
    The console's HTML routes (`/designer/...`) are not the API and are walked by their own
    tests."""
    app = make_app(tmp_path)
    assert isinstance(app, LayoutApp) and isinstance(app.fallback, Starlette)
    served = {
        (method, route.path)
        for route in app.fallback.routes
        if isinstance(route, Route) and not route.path.startswith("/designer")
        for method in route.methods or ()
        if method != "HEAD"
    }
    documented = {
        (method.upper(), path) for path, ops in openapi["paths"].items() for method in ops
    }
    assert served - documented == set()
