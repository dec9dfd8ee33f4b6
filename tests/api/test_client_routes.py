"""The client API through the real app: every route, every bad-input case, isolation, erasure."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import msgspec
import pytest
from starlette.testclient import TestClient

from tests.helpers.app import ELDERLY, SECRET, bearer, make_app, token
from tests.helpers.rsgi import ANSWERS, interfaced
from uiserver.catalog import load_template_file


@pytest.fixture(params=ANSWERS)
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    """The app on ASGI (uvicorn) and through its RSGI entry point (granian)."""
    with TestClient(interfaced(make_app(tmp_path), request.param)) as test_client:
        yield test_client


def stored(client: TestClient, user: str) -> dict[str, object]:
    """What `/v1/me/data` exports about `user`, without the id itself."""
    data = client.get("/v1/me/data", headers=bearer(user)).json()["data"]
    data.pop("user_id", None)
    return data  # type: ignore[no-any-return]


def error_of(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] and body["error"]["message"]
    error: dict[str, str] = body["error"]
    return error


# --------------------------------------------------------------------------- layouts


def test_anonymous_layout_has_caching_headers(client: TestClient) -> None:
    response = client.get("/v1/layouts/home")
    assert response.status_code == 200
    body = response.json()
    assert body["schema"] == 1 and body["page"] == "home" and body["mode"] == "standard"
    assert body["personalization"]["changed_ratio"] == 0
    cache_control = response.headers["cache-control"]
    for part in ("private", "max-age=", "stale-while-revalidate=", "stale-if-error="):
        assert part in cache_control
    assert response.headers["etag"].startswith('"')
    assert "Authorization" in response.headers["vary"]


def test_if_none_match_gives_304_with_same_headers(client: TestClient) -> None:
    first = client.get("/v1/layouts/home", headers=bearer("u1"))
    again = client.get(
        "/v1/layouts/home",
        headers={**bearer("u1"), "If-None-Match": first.headers["etag"]},
    )
    assert again.status_code == 304
    assert again.content == b""
    for name in ("etag", "cache-control", "vary"):
        assert again.headers[name] == first.headers[name]
    other = client.get("/v1/layouts/home", headers={"If-None-Match": '"nope"'})
    assert other.status_code == 200


def test_gzip_when_accepted(client: TestClient) -> None:
    response = client.get("/v1/layouts/home", headers={"Accept-Encoding": "gzip"})
    assert response.headers.get("content-encoding") == "gzip"
    plain = client.get("/v1/layouts/home", headers={"Accept-Encoding": "identity"})
    assert response.json() == plain.json()
    raw = client.get("/v1/layouts/home", headers={"Accept-Encoding": "gzip"}).read()
    assert json.loads(raw) == plain.json() or json.loads(gzip.decompress(raw)) == plain.json()


def test_context_query_changes_layout(client: TestClient) -> None:
    light = client.get("/v1/layouts/home").json()
    dark = client.get("/v1/layouts/home?dark=1").json()
    assert light["theme"]["palette"] != dark["theme"]["palette"]
    assert client.get("/v1/layouts/home?utm=abc").json() == light


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param("dark=2", "dark", id="dark-not-bool"),
        pytest.param("device=watch", "device", id="unknown-device"),
        pytest.param("width=wide", "width", id="width-not-number"),
        pytest.param("font_px=500", "font_px", id="font-out-of-range"),
        pytest.param("width=-3", "width", id="negative-width"),
    ],
)
def test_bad_context_is_400(client: TestClient, query: str, field: str) -> None:
    response = client.get(f"/v1/layouts/home?{query}")
    assert response.status_code == 400
    assert error_of(response)["field"] == field


def test_unknown_page_is_404(client: TestClient) -> None:
    response = client.get("/v1/layouts/nope")
    assert response.status_code == 404
    assert error_of(response)["code"] == "unknown_page"


def test_layout_wrong_method_is_405_json(client: TestClient) -> None:
    response = client.post("/v1/layouts/home")
    assert response.status_code == 405
    error_of(response)


# --------------------------------------------------------------------------- tokens


def _bad_tokens() -> list[object]:
    # Made at collection: `exp` must outlast the tests that run before these (not 60 s).
    now = int(time.time()) + 3600
    return [
        pytest.param("Bearer not-a-jwt", "bad_token", id="garbage"),
        pytest.param("Basic abc", "bad_token", id="wrong-scheme"),
        pytest.param(f"Bearer {token('u', ttl=-3600)}", "token_expired", id="expired"),
        pytest.param(
            f"Bearer {token('u', secret='another-secret-of-enough-length!!')}",
            "bad_token",
            id="foreign-secret",
        ),
        pytest.param(
            "Bearer " + jwt.encode({"sub": "u"}, SECRET, algorithm="HS256"),
            "bad_token",
            id="no-exp",
        ),
        pytest.param(
            "Bearer " + jwt.encode({"sub": "u", "exp": now + 3600}, None, algorithm="none"),
            "bad_token",
            id="alg-none",
        ),
        pytest.param(
            "Bearer "
            + jwt.encode(
                {"sub": "u", "exp": now + 3600, "role": "root"}, SECRET, algorithm="HS256"
            ),
            "bad_token",
            id="unknown-role",
        ),
    ]


@pytest.mark.parametrize(("header", "code"), _bad_tokens())
@pytest.mark.parametrize("path", ["/v1/layouts/home", "/v1/me/settings"])
def test_bad_tokens_are_401(client: TestClient, header: str, code: str, path: str) -> None:
    response = client.get(path, headers={"Authorization": header})
    assert response.status_code == 401
    assert error_of(response)["code"] == code


def test_me_routes_need_a_token(client: TestClient) -> None:
    for method, path in [
        ("GET", "/v1/me/settings"),
        ("PUT", "/v1/me/settings"),
        ("POST", "/v1/me/events"),
        ("GET", "/v1/me/data"),
        ("DELETE", "/v1/me"),
    ]:
        response = client.request(method, path, json={})
        assert response.status_code == 401, (method, path)
        error_of(response)


# --------------------------------------------------------------------------- settings


def test_settings_defaults_and_round_trip(client: TestClient) -> None:
    response = client.get("/v1/me/settings", headers=bearer("alice"))
    assert response.status_code == 200
    defaults = response.json()
    assert defaults["elderly_mode"] == "auto" and defaults["personalization"] == 1.0
    wanted = {**defaults, "font_scale": 1.5, "handedness": "left", "high_contrast": True}
    put = client.put("/v1/me/settings", json=wanted, headers=bearer("alice"))
    assert put.status_code == 200
    assert client.get("/v1/me/settings", headers=bearer("alice")).json() == wanted


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        pytest.param({**ELDERLY, "font_scale": 3.0}, 422, "font_scale", id="font-scale-range"),
        pytest.param({**ELDERLY, "personalization": -0.1}, 422, "personalization", id="strength"),
        pytest.param({**ELDERLY, "elderly_mode": "maybe"}, 422, "elderly_mode", id="enum"),
        pytest.param({**ELDERLY, "high_contrast": "yes"}, 422, "high_contrast", id="wrong-type"),
        pytest.param({**ELDERLY, "birthday": "1950-01-01"}, 422, None, id="unknown-field"),
        pytest.param([1, 2], 422, None, id="not-an-object"),
    ],
)
def test_bad_settings_are_rejected_and_nothing_changes(
    client: TestClient, body: object, status: int, field: str | None
) -> None:
    before = client.put("/v1/me/settings", json=ELDERLY, headers=bearer("bob")).json()
    response = client.put("/v1/me/settings", json=body, headers=bearer("bob"))
    assert response.status_code == status
    error = error_of(response)
    if field:
        assert error["field"] == field
    assert client.get("/v1/me/settings", headers=bearer("bob")).json() == before


def test_malformed_and_oversized_settings(client: TestClient) -> None:
    headers = {**bearer("carol"), "Content-Type": "application/json"}
    malformed = client.put("/v1/me/settings", content=b'{"elderly_mode": ', headers=headers)
    assert malformed.status_code == 400 and error_of(malformed)["code"] == "bad_json"
    empty = client.put("/v1/me/settings", content=b"", headers=headers)
    assert empty.status_code == 400
    huge = client.put("/v1/me/settings", content=b" " * 100_000, headers=headers)
    assert huge.status_code == 413 and error_of(huge)["code"] == "too_large"
    assert client.get("/v1/me/settings", headers=bearer("carol")).json()["elderly_mode"] == "auto"


def test_elderly_setting_changes_next_layout_and_etag(client: TestClient) -> None:
    before = client.get("/v1/layouts/home", headers=bearer("dora"))
    assert before.json()["mode"] == "standard"
    client.put("/v1/me/settings", json=ELDERLY, headers=bearer("dora"))
    after = client.get("/v1/layouts/home", headers=bearer("dora"))
    assert after.json()["mode"] == "elderly"
    assert after.headers["etag"] != before.headers["etag"]
    stale = client.get(
        "/v1/layouts/home", headers={**bearer("dora"), "If-None-Match": before.headers["etag"]}
    )
    assert stale.status_code == 200


# --------------------------------------------------------------------------- events


def _events(n: int, kind: str = "click", component: str = "coupons") -> dict[str, object]:
    return {
        "events": [
            {"page": "home", "component": component, "kind": kind, "ts": time.time()}
            for _ in range(n)
        ]
    }


def test_events_are_stored_and_exported(client: TestClient) -> None:
    response = client.post("/v1/me/events", json=_events(5), headers=bearer("eve"))
    assert response.status_code == 202
    assert response.json() == {"accepted": 5, "stored": 5, "ignored": 0, "ignored_reasons": {}}
    data = client.get("/v1/me/data", headers=bearer("eve")).json()
    assert "coupons" in json.dumps(data)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param(_events(501), 422, id="too-many"),
        pytest.param(
            {"events": [{"page": "home", "component": "x", "kind": "hover"}]}, 422, id="bad-kind"
        ),
        pytest.param({"events": [{"page": "home", "kind": "click"}]}, 422, id="missing-field"),
        pytest.param(
            {"events": [{"page": "home", "component": "x", "kind": "click", "ts": "yesterday"}]},
            422,
            id="ts-not-number",
        ),
        pytest.param({"evts": []}, 422, id="wrong-key"),
    ],
)
def test_bad_event_batches(client: TestClient, body: object, status: int) -> None:
    response = client.post("/v1/me/events", json=body, headers=bearer("fay"))
    assert response.status_code == status
    error_of(response)
    assert stored(client, "fay") == stored(client, "nobody-new")


def test_oversized_event_body_is_413(client: TestClient) -> None:
    response = client.post(
        "/v1/me/events",
        content=b"[" + b" " * 400_000 + b"]",
        headers={**bearer("gus"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413


def test_personalization_off_stores_no_events(client: TestClient) -> None:
    client.put("/v1/me/settings", json={**ELDERLY, "personalization": 0.0}, headers=bearer("hal"))
    response = client.post("/v1/me/events", json=_events(10), headers=bearer("hal"))
    assert response.status_code == 202 and response.json()["stored"] == 0
    assert "coupons" not in json.dumps(client.get("/v1/me/data", headers=bearer("hal")).json())


# --------------------------------------------------------------------------- isolation, erasure


def test_a_token_never_reads_or_writes_another_user(client: TestClient) -> None:
    client.put("/v1/me/settings", json=ELDERLY, headers=bearer("ann"))
    client.post("/v1/me/events", json=_events(3), headers=bearer("ann"))
    assert client.get("/v1/me/settings", headers=bearer("ben")).json()["elderly_mode"] == "auto"
    assert "coupons" not in json.dumps(client.get("/v1/me/data", headers=bearer("ben")).json())
    assert client.get("/v1/layouts/home", headers=bearer("ben")).json()["mode"] == "standard"
    client.delete("/v1/me", headers=bearer("ben"))
    assert client.get("/v1/me/settings", headers=bearer("ann")).json()["elderly_mode"] == "on"


def test_each_user_write_invalidates_once(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store's listener is the one place caches drop: a write is not invalidated twice."""
    service = client.app.service  # type: ignore[attr-defined]
    dropped: list[str] = []
    real = service.cache.drop_user

    def counting(user_id: str) -> None:
        dropped.append(user_id)
        real(user_id)

    monkeypatch.setattr(service.cache, "drop_user", counting)
    client.put("/v1/me/settings", json=ELDERLY, headers=bearer("una"))
    assert dropped == ["una"]
    client.post("/v1/me/events", json=_events(3), headers=bearer("una"))
    assert dropped == ["una", "una"]
    client.delete("/v1/me", headers=bearer("una"))
    assert dropped == ["una", "una", "una"]


def test_erasure_leaves_nothing(client: TestClient) -> None:
    client.put("/v1/me/settings", json=ELDERLY, headers=bearer("ivy"))
    client.post("/v1/me/events", json=_events(20), headers=bearer("ivy"))
    assert client.get("/v1/layouts/home", headers=bearer("ivy")).json()["mode"] == "elderly"
    service = client.app.service  # type: ignore[attr-defined]
    assert "ivy" in service.loader.cache
    response = client.delete("/v1/me", headers=bearer("ivy"))
    assert response.status_code == 200
    assert "ivy" not in service.loader.cache
    assert not [k for k in service.cache.requests if k[0] == "ivy"]
    assert stored(client, "ivy") == stored(client, "never-seen")
    assert client.get("/v1/layouts/home", headers=bearer("ivy")).json()["mode"] == "standard"


# --------------------------------------------------------------------------- caching


def test_concurrent_misses_are_computed_once(tmp_path: Path) -> None:
    app = make_app(tmp_path)

    async def scenario() -> tuple[list[int], int, int]:
        async with app.fallback.router.lifespan_context(app.fallback):  # type: ignore[attr-defined]
            service = app.service  # type: ignore[attr-defined]
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                loads_before = service.loader.loads.computations
                renders_before = service.server.stats["renders"]
                responses = await asyncio.gather(
                    *[http.get("/v1/layouts/product", headers=bearer("zed")) for _ in range(30)]
                )
                return (
                    [r.status_code for r in responses],
                    service.loader.loads.computations - loads_before,
                    service.server.stats["renders"] - renders_before,
                )

    statuses, loads, renders = asyncio.run(scenario())
    assert statuses == [200] * 30
    assert loads == 1
    assert renders == 1


def test_users_with_same_inputs_share_one_body(client: TestClient) -> None:
    service = client.app.service  # type: ignore[attr-defined]
    client.get("/v1/layouts/cart", headers=bearer("s1"))
    renders = service.server.stats["renders"]
    for user in ("s2", "s3", "s4"):
        client.get("/v1/layouts/cart", headers=bearer(user))
    assert service.server.stats["renders"] == renders


def test_publish_is_visible_on_the_next_request(client: TestClient) -> None:
    service = client.app.service  # type: ignore[attr-defined]
    before = client.get("/v1/layouts/me", headers=bearer("pat"))
    template = load_template_file(Path(__file__).resolve().parents[2] / "layouts" / "me.yaml")
    changed = msgspec.structs.replace(template, title=template.title + " v2")
    assert client.portal is not None
    applied = client.portal.call(service.publisher.publish, "me", changed, "tester", "retitle")
    record = applied.head
    after = client.get("/v1/layouts/me", headers=bearer("pat"))
    assert after.json()["template_version"] == record.version
    assert after.json()["template_version"] != before.json()["template_version"]
    assert after.headers["etag"] != before.headers["etag"]


# --------------------------------------------------------------------------- ops


def test_health_ready_metrics_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and "home" in ready.json()["templates"]
    client.get("/v1/layouts/home")
    etag = client.get("/v1/layouts/home").headers["etag"]
    client.get("/v1/layouts/home", headers={"If-None-Match": etag})
    metrics = client.get("/metrics").text
    assert "uiserver_request_seconds_bucket" in metrics
    assert 'uiserver_layout_cache_total{result="hit"}' in metrics
    assert "uiserver_not_modified_total 1.0" in metrics
    assert 'uiserver_cache_entries{cache="bodies"} 1.0' in metrics
    assert 'route="/healthz"' in metrics  # Starlette routes are timed by their path template
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    for path in (
        "/v1/layouts/{page}",
        "/v1/me/settings",
        "/v1/me/events",
        "/v1/me/data",
        "/v1/me",
        "/healthz",
        "/readyz",
        "/metrics",
    ):
        assert path in spec["paths"], path
    assert "Layout" in spec["components"]["schemas"]
