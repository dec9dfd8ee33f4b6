"""Capability negotiation through the real app, on SQLite and on a real Redis: a client that
declares an older renderer gets a type's fallback (named in `reasons`) or nothing of it, never
the type; an unknown types hash is a 428 until the client registers its list; an operator's
kill switch takes a type off for a range of renderer versions on every replica, at once."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.helpers.app import ROOT, bearer, make_app
from uiserver.catalog import load_catalog
from uiserver.engine.capability import default_types, types_hash
from uiserver.serving.pages import NotDrawable
from uiserver.store.base import StoreUnavailable

ADMIN = bearer("ops", "admin")


@pytest.fixture
def components(tmp_path: Path) -> Path:
    """The shipped catalogue, where `notice_bar` is new in renderer 2.0.0 and falls back to
    `section_title`, and `flash_sale` is new in 2.0.0 with no fallback."""
    out = tmp_path / "components"
    shutil.copytree(ROOT / "components", out)
    with (out / "notice_bar.yaml").open("a") as f:
        f.write('since: "2.0.0"\nfallback: section_title\n')
    with (out / "flash_sale.yaml").open("a") as f:
        f.write('since: "2.0.0"\n')
    return out


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def apps(
    request: pytest.FixtureRequest, tmp_path: Path, components: Path
) -> Iterator[tuple[TestClient, TestClient]]:
    """Two replicas on one store."""
    url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    data = tmp_path / "data"

    def app() -> Any:
        return make_app(data, store_url=url, components_dir=components, activity_flush_s=0.0)

    with TestClient(app()) as one, TestClient(app()) as two:
        yield one, two


def layout(client: TestClient, caps: str | None, user: str = "ann") -> Any:
    headers = bearer(user) if caps is None else {**bearer(user), "X-UI-Capabilities": caps}
    return client.get("/v1/layouts/home", headers=headers)


def eventually(check: Callable[[], bool], within: float = 2.0) -> None:
    """Redis delivers another replica's invalidation within milliseconds, not at once."""
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "the other replica never heard of the change"
        time.sleep(0.02)


def types_of(body: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["type"] for c in body["components"]}


def test_an_old_renderer_gets_the_fallback_named_in_reasons(
    apps: tuple[TestClient, TestClient],
) -> None:
    one, _ = apps
    new = layout(one, "r=2.0.0")
    assert new.status_code == 200
    assert "X-UI-Capabilities" in new.headers["vary"]
    assert types_of(new.json())["notice"] == "notice_bar"
    old = layout(one, "r=1.9.9")
    assert old.status_code == 200
    body = old.json()
    drawn = types_of(body)
    assert drawn["notice"] == "section_title"
    assert "flash_sale" not in drawn  # no fallback: left out, and said so
    assert "omitted:flash_sale" in body["reasons"]
    notice = next(c for c in body["components"] if c["id"] == "notice")
    assert "fallback:notice_bar" in notice["reasons"]
    assert "closable" not in notice["props"]  # section_title declares no such prop
    assert old.headers["etag"] != new.headers["etag"]
    # the default hash of 1.9.9 names the same set: no registration needed
    catalog = load_catalog(one.app.service.config.components_dir)  # type: ignore[attr-defined]
    digest = types_hash(default_types(catalog.types, (1, 9, 9)))
    assert layout(one, f"r=1.9.9;t={digest}").json() == body
    assert layout(one, None).status_code == 200  # no header: every type, as before
    assert types_of(layout(one, None).json())["notice"] == "notice_bar"


def test_a_custom_type_list_is_registered_once_for_every_replica(
    apps: tuple[TestClient, TestClient],
) -> None:
    one, two = apps
    catalog = load_catalog(one.app.service.config.components_dir)  # type: ignore[attr-defined]
    mine = [*sorted(set(catalog.types) - {"coupon_strip"}), "my_own_widget"]
    digest = types_hash(mine)
    unknown = layout(one, f"r=2.0.0;t={digest}")
    assert unknown.status_code == 428
    assert unknown.json()["error"]["code"] == "capabilities_unknown"
    registered = one.post(
        "/v1/capabilities", json={"renderer": "2.0.0", "types": mine}, headers=bearer("ann")
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["capability"] == f"r=2.0.0;t={digest}"
    assert registered.json()["unknown"] == ["my_own_widget"]
    served = layout(two, f"r=2.0.0;t={digest}")  # the other replica knows it from the store
    assert served.status_code == 200
    assert "coupon_strip" not in set(types_of(served.json()).values())
    assert "coupons" not in types_of(served.json())


def test_bad_capabilities_and_registrations_are_4xx(apps: tuple[TestClient, TestClient]) -> None:
    one, _ = apps
    for bad in ("2.0.0", "r=2.0", "r=2.0.0;t=XYZ", "r=1.0.0;r=2.0.0", "r=" + "1" * 200):
        response = layout(one, bad)
        assert response.status_code == 400, bad
        assert response.json()["error"]["field"] == "X-UI-Capabilities"
    refused = one.post("/v1/capabilities", json={"renderer": "2", "types": []}, headers=bearer("a"))
    assert refused.status_code == 422
    forged = one.post(
        "/v1/capabilities",
        json={"renderer": "2.0.0", "types": []},
        headers={"Authorization": "Bearer not-a-token"},
    )
    assert forged.status_code == 401  # a bad token is refused; no token is anonymous
    too_many = one.post("/v1/capabilities", json={"renderer": "2.0.0", "types": ["t"] * 513})
    assert too_many.status_code == 422  # the size bounds hold for anonymous callers too


def test_an_anonymous_launch_can_answer_its_428(apps: tuple[TestClient, TestClient]) -> None:
    """DESIGN 5: no token, the base layout adapted to the request's context, and never a type
    the client cannot draw. The 428 an anonymous launch gets names `POST /v1/capabilities`;
    that was a 401 without a token, so such a client could only drop its list and be sent
    the version's defaults, types it cannot draw included."""
    one, two = apps
    catalog = load_catalog(one.app.service.config.components_dir)  # type: ignore[attr-defined]
    mine = sorted(set(catalog.types) - {"coupon_strip"})
    digest = types_hash(mine)
    caps = {"X-UI-Capabilities": f"r=2.0.0;t={digest}"}
    assert one.get("/v1/layouts/home", headers=caps).status_code == 428
    registered = one.post("/v1/capabilities", json={"renderer": "2.0.0", "types": mine})
    assert registered.status_code == 201, registered.text
    assert registered.json()["capability"] == f"r=2.0.0;t={digest}"
    served = two.get("/v1/layouts/home", headers=caps)
    assert served.status_code == 200, served.text
    assert "coupon_strip" not in set(types_of(served.json()).values())


def test_anonymous_new_type_lists_are_rate_limited(sqlite_app: TestClient) -> None:
    """A script without a token cannot fill the registry (10,000 lists) in seconds: its new
    lists come out of a per-process budget; a known list and a signed-in caller are not
    counted."""
    from uiserver.serving.capabilities import Budget

    service = sqlite_app.app.service  # type: ignore[attr-defined]
    now = [1000.0]
    service.capabilities.anonymous = Budget(6, 2, clock=lambda: now[0])  # 2 now, 1 per 10 s

    def anonymous(types: list[str]) -> Any:
        return sqlite_app.post("/v1/capabilities", json={"renderer": "2.0.0", "types": types})

    assert anonymous(["a1"]).status_code == 201
    assert anonymous(["a2"]).status_code == 201
    limited = anonymous(["a3"])
    assert limited.status_code == 429, limited.text
    assert limited.json()["error"]["code"] == "rate_limited"
    assert limited.headers["retry-after"] == "10"
    assert anonymous(["a1"]).status_code == 201  # known: answered, nothing written
    signed = sqlite_app.post(
        "/v1/capabilities", json={"renderer": "2.0.0", "types": ["a3"]}, headers=bearer("u")
    )
    assert signed.status_code == 201
    assert anonymous(["a4"]).status_code == 429
    now[0] += 10
    assert anonymous(["a4"]).status_code == 201


def test_a_kill_switch_takes_a_type_off_on_every_replica(
    apps: tuple[TestClient, TestClient],
) -> None:
    one, two = apps
    assert types_of(layout(two, "r=2.1.0").json())["notice"] == "notice_bar"  # cached now
    put = one.put(
        "/v1/admin/kill-switches/notice_bar",
        json={"since": "2.0.0", "until": "2.1.9", "reason": "crashes on 2.1"},
        headers=ADMIN,
    )
    assert put.status_code == 200, put.text
    eventually(lambda: types_of(layout(two, "r=2.1.0").json())["notice"] == "section_title")
    assert types_of(layout(two, "r=2.2.0").json())["notice"] == "notice_bar"  # past `until`
    listed = two.get("/v1/admin/kill-switches", headers=ADMIN).json()["kill_switches"]
    assert [(k["type"], k["since"], k["until"]) for k in listed] == [
        ("notice_bar", "2.0.0", "2.1.9")
    ]
    assert one.delete("/v1/admin/kill-switches/notice_bar", headers=ADMIN).status_code == 200
    eventually(lambda: types_of(layout(two, "r=2.1.0").json())["notice"] == "notice_bar")
    gone = one.delete("/v1/admin/kill-switches/notice_bar", headers=ADMIN)
    assert gone.status_code == 404
    unknown = one.put("/v1/admin/kill-switches/nope", json={}, headers=ADMIN)
    assert (unknown.status_code, unknown.json()["error"]["field"]) == (404, "type")
    backwards = one.put(
        "/v1/admin/kill-switches/notice_bar",
        json={"since": "2.0.0", "until": "1.0.0"},
        headers=ADMIN,
    )
    assert (backwards.status_code, backwards.json()["error"]["field"]) == (422, "until")
    designer = one.put(
        "/v1/admin/kill-switches/notice_bar", json={}, headers=bearer("d", "designer")
    )
    assert designer.status_code == 403


def test_publishing_warns_when_recent_clients_cannot_draw_a_type(
    apps: tuple[TestClient, TestClient],
) -> None:
    one, _ = apps
    for _ in range(3):
        assert layout(one, "r=1.0.0", "old").status_code == 200
    assert layout(one, "r=2.0.0", "new").status_code == 200
    service = one.app.service  # type: ignore[attr-defined]
    one.portal.call(service.capabilities.flush)  # type: ignore[union-attr]
    designer = bearer("dora", "designer")
    live = one.get("/v1/admin/templates/home", headers=designer).json()
    template = {**live["template"], "title": live["template"]["title"] + " !"}
    published = one.post(
        "/v1/admin/templates/home/publish",
        json={"template": template, "message": "a new title"},
        headers=designer,
    )
    assert published.status_code == 201, published.text
    warnings = {w["type"]: w for w in published.json()["warnings"]}
    assert set(warnings) == {"notice_bar", "flash_sale"}
    assert warnings["notice_bar"]["share"] == 0.75
    assert warnings["notice_bar"]["fallback"] == "section_title"
    assert warnings["flash_sale"]["fallback"] is None
    assert "75%" in warnings["flash_sale"]["message"]


@pytest.fixture
def sqlite_app(tmp_path: Path, components: Path) -> Iterator[TestClient]:
    with TestClient(make_app(tmp_path / "d", components_dir=components)) as client:
        yield client


def test_no_drawable_layout_is_a_406_and_a_failing_store_a_503(
    sqlite_app: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = sqlite_app.app.service  # type: ignore[attr-defined]

    def refuse(live: Any, can_draw: frozenset[str]) -> NotDrawable:
        return NotDrawable(live.record.page, "a fallback does not compile")

    monkeypatch.setattr(service.live, "_substituted", refuse)
    refused = layout(sqlite_app, "r=1.0.0")
    assert (refused.status_code, refused.json()["error"]["code"]) == (406, "not_drawable")
    assert "does not compile" in refused.json()["error"]["message"]
    assert layout(sqlite_app, "r=2.0.0").status_code == 200  # draws everything: no fallback

    async def down(digest: str) -> None:
        raise StoreUnavailable("redis: down")

    monkeypatch.setattr(service.store.capabilities, "registered_types", down)
    unavailable = layout(sqlite_app, "r=2.0.0;t=0badf00d")
    assert (unavailable.status_code, unavailable.json()["error"]["code"]) == (503, "unavailable")


def test_a_full_registry_is_a_409(sqlite_app: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("uiserver.store.sqlite.capabilities.MAX_TYPE_LISTS", 0)
    full = sqlite_app.post(
        "/v1/capabilities", json={"renderer": "1.0.0", "types": ["x"]}, headers=bearer("a")
    )
    assert (full.status_code, full.json()["error"]["code"]) == (409, "registry_full")


def test_substituted_compilations_are_bounded_per_version(
    sqlite_app: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("uiserver.serving.pages.MAX_DRAWN", 1)
    service = sqlite_app.app.service  # type: ignore[attr-defined]
    live = service.live.pages["home"]
    every = frozenset(service.catalog.types)
    first = service.live.for_client(live, every - {"notice_bar"})
    again = service.live.for_client(live, every - {"notice_bar"})
    assert first is again  # compiled once
    other = service.live.for_client(live, every - {"coupon_strip"})
    assert other is not None and other is not first
    assert list(live.drawn) == [every - {"coupon_strip"}]
    assert service.live.for_client(live, every) is None  # draws every type: the live version


def test_the_capability_may_come_as_a_query_value(apps: tuple[TestClient, TestClient]) -> None:
    one, _ = apps
    by_query = one.get("/v1/layouts/home?caps=r%3D1.9.9", headers=bearer("ann")).json()
    assert types_of(by_query)["notice"] == "section_title"
    assert by_query == layout(one, "r=1.9.9").json()
    both = one.get(
        "/v1/layouts/home?caps=r%3D1.9.9", headers={**bearer("ann"), "X-UI-Capabilities": "r=2.0.0"}
    )
    assert types_of(both.json())["notice"] == "notice_bar"  # the header wins
    bad = one.get("/v1/layouts/home?caps=nonsense", headers=bearer("ann"))
    assert bad.status_code == 400


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ([("X-UI-Capabilities", "r=1.9.9"), ("X-UI-Capabilities", "r=2.0.0")], ""),
        ([("X-UI-Capabilities", "r=2.0.0"), ("X-UI-Capabilities", "r=2.0.0;t=abcdef12")], ""),
        ([], "?caps=r%3D1.9.9&caps=r%3D2.0.0"),
    ],
)
def test_a_capability_sent_twice_with_different_values_is_refused(
    apps: tuple[TestClient, TestClient], headers: list[tuple[str, str]], query: str
) -> None:
    """One client is one renderer: two X-UI-Capabilities field lines (or two `caps`
    parameters) that disagree are a 400 naming the header, as the comma-joined form a proxy
    may make of them (RFC 9110 5.3) is. Before, the first was served and the second dropped
    without a word (an old renderer could get a type it cannot draw)."""
    one, _ = apps
    response = one.get(f"/v1/layouts/home{query}", headers=[*bearer("ann").items(), *headers])
    assert response.status_code == 400, response.text[:200]
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("bad_capabilities", "X-UI-Capabilities")
    assert "twice" in error["message"]
    joined = ", ".join(value for _, value in headers) or "r=1.9.9, r=2.0.0"
    assert layout(one, joined).status_code == 400


def test_the_same_capability_sent_twice_is_served(apps: tuple[TestClient, TestClient]) -> None:
    one, _ = apps
    twice = [*bearer("ann").items(), *[("X-UI-Capabilities", "r=1.9.9")] * 2]
    response = one.get("/v1/layouts/home?caps=r%3D1.9.9&caps=r%3D1.9.9", headers=twice)
    assert response.status_code == 200
    assert response.json() == layout(one, "r=1.9.9").json()
