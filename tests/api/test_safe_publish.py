"""Safe publishing through the real app, on SQLite and on Redis: If-Match / `base_version`
(409 `stale_base`), staged rollouts (rollout, promote, abort), archiving, and bad input that
changes nothing."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from tests.helpers.app import bearer, make_app, on_the_apps_loop

DESIGNER = bearer("dora", "designer")
BASE = "/v1/admin/templates/home"


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_url(backend: str, request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("redis_url")) if backend == "redis" else ""


@pytest.fixture
def client(tmp_path: Path, store_url: str) -> Iterator[TestClient]:
    with TestClient(make_app(tmp_path, store_url=store_url)) as test_client:
        yield test_client


def live(client: TestClient, page: str = "home") -> tuple[str, dict[str, Any]]:
    response = client.get(f"/v1/admin/templates/{page}", headers=DESIGNER)
    assert response.status_code == 200, response.text
    body = response.json()
    return body["live_version"], body


def titled(template: dict[str, Any], title: str) -> dict[str, Any]:
    changed = copy.deepcopy(template)
    changed["title"] = title
    return changed


def publish(
    client: TestClient,
    template: dict[str, Any],
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> httpx.Response:
    response: httpx.Response = client.post(
        f"{BASE}/publish",
        headers={**DESIGNER, **(headers or {})},
        json={"template": template, "message": "change", **extra},
    )
    return response


def history(client: TestClient) -> list[dict[str, Any]]:
    versions: list[dict[str, Any]] = client.get(f"{BASE}/history", headers=DESIGNER).json()[
        "versions"
    ]
    return versions


def served(client: TestClient, user: str | None) -> str:
    headers = bearer(user) if user else {}
    response = client.get("/v1/layouts/home", headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["template_version"])


# --------------------------------------------------------------------------- If-Match


def test_get_sends_the_live_version_as_etag(client: TestClient) -> None:
    response = client.get(BASE, headers=DESIGNER)
    assert response.headers["etag"] == f'"{response.json()["live_version"]}"'
    assert response.json()["rollout"] is None


@pytest.mark.parametrize("how", ["header", "body"])
def test_a_stale_base_is_409_with_what_changed_and_nothing_changes(
    client: TestClient, how: str
) -> None:
    base, body = live(client)
    theirs = publish(
        client, titled(body["template"], "B's title"), headers={"If-Match": f'"{base}"'}
    )
    assert theirs.status_code == 201, theirs.text
    b_version = theirs.json()["version"]
    entries = len(history(client))

    mine = titled(body["template"], "A's title")
    precondition: dict[str, Any] = (
        {"headers": {"If-Match": f'"{base}"'}} if how == "header" else {"base_version": base}
    )
    stale = publish(client, mine, **precondition)

    assert stale.status_code == 409, stale.text
    answer = stale.json()
    assert answer["error"] == {
        "code": "stale_base",
        "field": "base_version",
        "message": answer["error"]["message"],
    }
    assert b_version in answer["error"]["message"]
    assert answer["live_version"] == b_version
    diff = client.get(f"{BASE}/diff", params={"from": base, "to": b_version}, headers=DESIGNER)
    assert answer["changes"] == diff.json()["changes"]
    assert {
        "kind": "changed",
        "field": "title",
        "from": body["template"]["title"],
        "to": "B's title",
    } in answer["changes"]
    assert live(client)[0] == b_version and len(history(client)) == entries
    assert served(client, "u1") == b_version


def test_current_base_publishes_and_star_forces(client: TestClient) -> None:
    base, body = live(client)
    first = publish(client, titled(body["template"], "one"), headers={"If-Match": f'"{base}"'})
    assert first.status_code == 201, first.text
    assert first.headers["etag"] == f'"{first.json()["version"]}"'
    forced = publish(client, titled(body["template"], "two"), headers={"If-Match": "*"})
    assert forced.status_code == 201, forced.text
    listed = publish(
        client,
        titled(body["template"], "three"),
        headers={"If-Match": f'"nope", "{forced.json()["version"]}"'},
    )
    assert listed.status_code == 201, listed.text
    plain = publish(client, titled(body["template"], "four"))  # no precondition: as before
    assert plain.status_code == 201, plain.text
    assert live(client)[0] == plain.json()["version"]


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("abc", id="unquoted"),
        pytest.param('W/"abc"', id="weak"),
        pytest.param('"a" "b"', id="no-comma"),
        pytest.param('"', id="half-quoted"),
        pytest.param("", id="empty"),
    ],
)
def test_a_malformed_if_match_is_400_and_nothing_changes(client: TestClient, header: str) -> None:
    base, body = live(client)
    response = publish(client, titled(body["template"], "x"), headers={"If-Match": header})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == "If-Match"
    assert live(client)[0] == base


def test_if_match_and_base_version_must_agree(client: TestClient) -> None:
    base, body = live(client)
    response = publish(
        client,
        titled(body["template"], "x"),
        headers={"If-Match": f'"{base}"'},
        base_version="0123456789abcdef",
    )
    assert response.status_code == 400 and response.json()["error"]["field"] == "base_version"
    assert live(client)[0] == base


def test_rollback_honours_the_precondition(client: TestClient) -> None:
    base, body = live(client)
    newer = publish(client, titled(body["template"], "newer")).json()["version"]
    stale = client.post(
        f"{BASE}/rollback", headers={**DESIGNER, "If-Match": f'"{base}"'}, json={"version": base}
    )
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_base"
    assert stale.json()["live_version"] == newer and live(client)[0] == newer
    ok = client.post(
        f"{BASE}/rollback", json={"version": base, "base_version": newer}, headers=DESIGNER
    )
    assert ok.status_code == 201, ok.text
    assert live(client)[0] == base
    unknown = client.post(
        f"{BASE}/rollback", json={"version": "ffffffffffffffff"}, headers=DESIGNER
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["field"] == "version"


# --------------------------------------------------------------------------- rollouts


def test_rollout_widen_and_promote(client: TestClient) -> None:
    old, body = live(client)
    staged = publish(client, titled(body["template"], "new"), rollout=10)
    assert staged.status_code == 201, staged.text
    new = staged.json()["version"]
    assert staged.json()["rollout"]["percent"] == 10
    state = live(client)[1]
    assert state["live_version"] == new
    assert state["rollout"] | {"started": 0, "updated": 0} == {
        "version": new,
        "previous": old,
        "percent": 10,
        "author": "dora",
        "started": 0,
        "updated": 0,
    }
    users = [f"user-{i}" for i in range(200)]
    at_10 = {u for u in users if served(client, u) == new}
    assert 0 < len(at_10) < 60  # 10% of 200, give or take
    assert {served(client, u) for u in users} == {old, new}  # never a third version
    assert served(client, None) == old  # anonymous: the previous version until 100%
    assert {served(client, u) for u in at_10} == {new}  # sticky
    metrics = client.get("/metrics").text
    # Each of the 200 users was served twice, those at 10% a third time, anonymous once.
    for version, count in ((new, 3 * len(at_10)), (old, 2 * (200 - len(at_10)) + 1)):
        assert re.search(
            rf'uiserver_layouts_served_total{{page="home",version="{version}"}} '
            rf"{float(count)}\n",
            metrics,
        ), metrics

    widened = client.post(f"{BASE}/rollout", json={"percent": 50}, headers=DESIGNER)
    assert widened.status_code == 200, widened.text
    assert widened.json()["rollout"]["percent"] == 50
    at_50 = {u for u in users if served(client, u) == new}
    assert at_10 < at_50 and 60 < len(at_50) < 140
    history_now = history(client)
    assert (history_now[0]["version"], history_now[0]["share"]) == (new, 50)
    assert (history_now[1]["version"], history_now[1]["share"]) == (old, 50)

    promoted = client.post(f"{BASE}/promote", headers=DESIGNER)
    assert promoted.status_code == 200, promoted.text
    assert promoted.json() == {"page": "home", "live_version": new, "rollout": None}
    assert {served(client, u) for u in users[:20]} == {new} and served(client, None) == new
    assert live(client)[1]["rollout"] is None


def test_abort_returns_everyone_to_the_previous_version(client: TestClient) -> None:
    old, body = live(client)
    new = publish(client, titled(body["template"], "new"), rollout=50).json()["version"]
    assert {served(client, f"u{i}") for i in range(40)} == {old, new}
    aborted = client.post(f"{BASE}/abort", headers=DESIGNER)
    assert aborted.status_code == 200, aborted.text
    assert aborted.json()["live_version"] == old and aborted.json()["rollout"] is None
    assert {served(client, f"u{i}") for i in range(40)} == {old}
    entries = history(client)
    assert entries[0]["version"] == old and "aborted" in entries[0]["message"]
    assert entries[0]["share"] == 100


def test_a_publish_during_a_rollout_must_say_what_to_do(client: TestClient) -> None:
    old, body = live(client)
    first = publish(client, titled(body["template"], "first"), rollout=20).json()["version"]
    entries = len(history(client))
    refused = publish(client, titled(body["template"], "second"))
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "rollout_running"
    assert refused.json()["rollout"]["version"] == first
    assert len(history(client)) == entries and live(client)[1]["rollout"]["percent"] == 20

    bad = publish(client, titled(body["template"], "second"), rollout_conflict="maybe")
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "rollout_conflict"

    second = publish(
        client, titled(body["template"], "second"), rollout=30, rollout_conflict="abort"
    )
    assert second.status_code == 201, second.text
    state = live(client)[1]
    assert state["rollout"]["previous"] == old  # the aborted version is nobody's fallback
    third = publish(client, titled(body["template"], "third"), rollout_conflict="promote")
    assert third.status_code == 201, third.text
    assert live(client)[1]["rollout"] is None
    assert [e["version"] for e in history(client)[:2]] == [
        third.json()["version"],
        second.json()["version"],
    ]


@pytest.mark.parametrize("value", [0, 101, -5, 10.5, "10", True, None])
def test_rollout_outside_1_to_100_is_422_and_nothing_changes(
    client: TestClient, value: Any
) -> None:
    base, body = live(client)
    staged = publish(client, titled(body["template"], "x"), rollout=value)
    if value is None:  # explicit null: no rollout, an ordinary publish
        assert staged.status_code == 201
        return
    assert staged.status_code == 422 and staged.json()["error"]["field"] == "rollout"
    assert live(client)[0] == base
    publish(client, titled(body["template"], "y"), rollout=10)
    widened = client.post(f"{BASE}/rollout", json={"percent": value}, headers=DESIGNER)
    assert widened.status_code == 422 and widened.json()["error"]["field"] == "percent"
    assert live(client)[1]["rollout"]["percent"] == 10


@pytest.mark.parametrize("route", ["promote", "abort", "rollout"])
def test_no_rollout_running_is_409_and_nothing_changes(client: TestClient, route: str) -> None:
    base, _ = live(client)
    entries = len(history(client))
    response = client.post(f"{BASE}/{route}", json={"percent": 20}, headers=DESIGNER)
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "no_rollout"
    assert live(client)[0] == base and len(history(client)) == entries
    missing = client.post(
        f"/v1/admin/templates/nowhere/{route}", json={"percent": 20}, headers=DESIGNER
    )
    # A page never published is not found (it was 409 no_rollout, as if it existed).
    assert missing.status_code == 404, missing.text
    assert missing.json()["error"] == {
        "code": "not_found",
        "message": "no page 'nowhere'",
        "field": "page",
    }


def test_a_rollout_survives_a_restart(tmp_path: Path, store_url: str) -> None:
    users = [f"r{i}" for i in range(60)]
    with TestClient(make_app(tmp_path, store_url=store_url)) as first:
        _, body = live(first)
        new = publish(first, titled(body["template"], "new"), rollout=40).json()["version"]
        before = {u: served(first, u) for u in users}
    with TestClient(make_app(tmp_path, store_url=store_url)) as second:
        assert live(second)[1]["rollout"]["percent"] == 40
        assert {u: served(second, u) for u in users} == before
        assert new in before.values()


def test_two_thousand_users_at_10_and_50_percent_and_after_abort(tmp_path: Path) -> None:
    """How many of 2,000 users get the new version (reported with -s); buckets are sticky.
    The 6,000 launches go to the app on its own loop (`on_the_apps_loop`, the same app and
    store without TestClient's thread hand-overs: 25.8 s in CI through TestClient)."""
    users = [f"user-{i:04d}" for i in range(2000)]

    def who_gets(client: TestClient, version: str) -> set[str]:
        async def launches(http: httpx.AsyncClient) -> set[str]:
            got = set()
            for user in users:
                response = await http.get("/v1/layouts/home", headers=bearer(user))
                assert response.status_code == 200, response.text
                if response.json()["template_version"] == version:
                    got.add(user)
            return got

        return on_the_apps_loop(client, launches)

    with TestClient(make_app(tmp_path)) as client:
        _, body = live(client)
        new = publish(client, titled(body["template"], "new"), rollout=10).json()["version"]
        at_10 = who_gets(client, new)
        client.post(f"{BASE}/rollout", json={"percent": 50}, headers=DESIGNER)
        at_50 = who_gets(client, new)
        client.post(f"{BASE}/abort", headers=DESIGNER)
        after = who_gets(client, new)
    print(
        f"\n2,000 users on the new version: 10% -> {len(at_10)}, 50% -> {len(at_50)}, "
        f"after abort -> {len(after)}"
    )
    # Binomial(2000, p): 3 standard deviations are 40 at 10% and 67 at 50%.
    assert abs(len(at_10) - 200) <= 40
    assert abs(len(at_50) - 1000) <= 67
    assert at_10 <= at_50  # widening keeps everyone who had it
    assert after == set()


# --------------------------------------------------------------------------- archive


def test_archive_hides_the_page_keeps_history_and_a_publish_restores_it(
    client: TestClient,
) -> None:
    base, body = live(client)
    entries = history(client)
    archived = client.delete(BASE, headers=DESIGNER)
    assert archived.status_code == 200, archived.text
    assert archived.json()["archived"]["author"] == "dora"
    assert client.get("/v1/layouts/home").status_code == 404
    assert client.get("/v1/layouts/home", headers=bearer("u1")).status_code == 404
    assert client.get(BASE, headers=DESIGNER).status_code == 404
    assert "home" not in {
        r["page"] for r in client.get("/v1/admin/templates", headers=DESIGNER).json()
    }
    kept = client.get(f"{BASE}/history", headers=DESIGNER).json()
    assert kept["versions"] == [e | {"share": 0} for e in entries]
    assert kept["archived"]["author"] == "dora"
    assert client.delete(BASE, headers=DESIGNER).status_code == 200  # idempotent
    staged = publish(client, body["template"], rollout=10)
    assert staged.status_code == 409 and staged.json()["error"]["code"] == "no_rollout"

    restored = publish(client, body["template"])
    assert restored.status_code == 201, restored.text
    assert served(client, None) == base and live(client)[0] == base
    assert client.get(f"{BASE}/history", headers=DESIGNER).json()["archived"] is None


def test_archive_of_an_unknown_page_is_404(client: TestClient) -> None:
    response = client.delete("/v1/admin/templates/nowhere", headers=DESIGNER)
    assert response.status_code == 404 and response.json()["error"]["field"] == "page"


def test_archive_ends_a_rollout(client: TestClient) -> None:
    _, body = live(client)
    publish(client, titled(body["template"], "new"), rollout=30)
    assert client.delete(BASE, headers=DESIGNER).status_code == 200
    assert client.post(f"{BASE}/promote", headers=DESIGNER).status_code == 409
    assert publish(client, titled(body["template"], "again")).status_code == 201
    assert live(client)[1]["rollout"] is None
