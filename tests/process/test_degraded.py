"""Degraded mode: Redis stops mid-run and comes back, uiserver is never restarted.

While Redis is down, layout GETs answer 200 (a cached user's own layout; anyone else the base
layout, marked `x-uiserver-degraded: 1` and `Cache-Control: no-store`), writes and store reads
answer 503 with a JSON error and `Retry-After`, and readiness says not ready. When Redis is back
on the same port, everything recovers by itself and nothing written before is lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from tests.helpers.app import ELDERLY, bearer, make_app
from tests.helpers.processes import ServeProcess
from tests.helpers.redis import RedisServer
from uiserver.store.base import Invalidation

pytestmark = [pytest.mark.redis, pytest.mark.slow]

RECOVERY_DEADLINE_S = 20.0  # generous: the subscriber's reconnect backoff tops out at 2 s
LARGE_TEXT = {**ELDERLY, "elderly_mode": "off", "font_scale": 1.5}
EVENTS = {"events": [{"page": "home", "component": "coupons", "kind": "click"}] * 12}


def eventually(probe: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + RECOVERY_DEADLINE_S
    while not probe():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {RECOVERY_DEADLINE_S} s: {what}")
        time.sleep(0.1)


def assert_unavailable(response: httpx.Response) -> None:
    """503 with the contract's error body and a hint when to retry."""
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["retry-after"].isdigit()
    error = response.json()["error"]
    assert error["code"] == "store_unavailable" and error["message"]
    assert "127.0.0.1" not in error["message"]  # no infrastructure details for clients


def degraded_count(client: httpx.Client | TestClient) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("uiserver_degraded_total "):
            return float(line.split()[1])
    raise AssertionError("uiserver_degraded_total missing from /metrics")


@pytest.fixture
def redis_and_server(
    redis_factory: Callable[..., RedisServer], tmp_path: Path
) -> Iterator[tuple[RedisServer, httpx.Client]]:
    redis = redis_factory(persistent=True)
    server = ServeProcess(tmp_path / "uiserver", redis.url).start()
    try:
        server.wait_ready()
        with server.client() as client:
            yield redis, client
    finally:
        server.stop()


def assert_store_work_unavailable(http: httpx.Client, writer: dict[str, str]) -> None:
    """During an outage every write, and every read only the store can answer, is a 503 with a
    JSON error; the live template still reads from the replica."""
    assert_unavailable(http.put("/v1/me/settings", headers=writer, json=ELDERLY))
    assert_unavailable(http.post("/v1/me/events", headers=writer, json=EVENTS))
    assert_unavailable(http.get("/v1/me/settings", headers=writer))
    assert_unavailable(http.get("/v1/me/data", headers=writer))
    assert_unavailable(http.delete("/v1/me", headers=writer))
    designer = bearer("ann", "designer")
    live = http.get("/v1/admin/templates/home", headers=designer)
    assert live.status_code == 200  # served from the replica's loaded templates
    assert_unavailable(
        http.post(
            "/v1/admin/templates/home/publish",
            headers=designer,
            json={
                "template": {**live.json()["template"], "title": "during the outage"},
                "message": "should not be stored",
            },
        )
    )


def test_redis_outage_and_recovery_without_restarting_uiserver(
    redis_and_server: tuple[RedisServer, httpx.Client],
) -> None:
    redis, http = redis_and_server
    cached, writer, stranger = bearer("cached"), bearer("writer"), bearer("stranger")

    # Before: a user with a warm layout, a user who only wrote data, the anonymous base layout.
    assert http.put("/v1/me/settings", headers=cached, json=ELDERLY).status_code == 200
    warm = http.get("/v1/layouts/home", headers=cached)
    assert warm.json()["mode"] == "elderly"
    assert http.put("/v1/me/settings", headers=writer, json=LARGE_TEXT).status_code == 200
    assert http.post("/v1/me/events", headers=writer, json=EVENTS).status_code == 202
    written = http.get("/v1/me/data", headers=writer).json()["data"]
    base = http.get("/v1/layouts/home")
    assert "x-uiserver-degraded" not in base.headers
    degraded_before = degraded_count(http)

    redis.stop()

    # Layouts stay 200. The cached user gets exactly the layout they had, not marked.
    again = http.get("/v1/layouts/home", headers=cached)
    assert again.status_code == 200 and again.content == warm.content
    assert again.headers["etag"] == warm.headers["etag"]
    assert "x-uiserver-degraded" not in again.headers
    other_page = http.get("/v1/layouts/cart", headers=cached)  # profile cached: still personal
    assert other_page.status_code == 200 and other_page.json()["mode"] == "elderly"
    # Users the replica holds nothing for get the base layout, marked and not to be stored.
    for who in (stranger, writer):
        fallback = http.get("/v1/layouts/home", headers=who)
        assert fallback.status_code == 200
        assert fallback.headers["x-uiserver-degraded"] == "1"
        assert fallback.headers["cache-control"] == "no-store"
        assert fallback.headers["etag"] == base.headers["etag"]
        assert fallback.content == base.content
    revalidated = http.get(
        "/v1/layouts/home", headers={**stranger, "If-None-Match": base.headers["etag"]}
    )
    assert revalidated.status_code == 304
    assert revalidated.headers["x-uiserver-degraded"] == "1"
    assert degraded_count(http) >= degraded_before + 3

    # Writes, and reads that only the store can answer, are 503 with a JSON error.
    assert_store_work_unavailable(http, writer)
    ready = http.get("/readyz")
    assert ready.status_code == 503 and ready.json()["store"] is False
    assert http.get("/healthz").status_code == 200  # alive: not a reason to restart it

    redis.start()  # same port, same append-only file

    eventually(lambda: http.get("/readyz").status_code == 200, "readyz back to 200")
    eventually(
        lambda: "x-uiserver-degraded" not in http.get("/v1/layouts/home", headers=stranger).headers,
        "layouts no longer degraded",
    )
    assert http.get("/v1/me/data", headers=writer).json()["data"] == written  # nothing lost
    # GET is the whole stored object: with the 长辈版 prompt's answer (a PUT without it keeps it)
    stored = {**LARGE_TEXT, "elderly_prompt": "unanswered"}
    assert http.get("/v1/me/settings", headers=writer).json() == stored
    assert http.get("/v1/layouts/home", headers=writer).headers["cache-control"] != "no-store"
    assert http.get("/v1/layouts/home", headers=cached).json()["mode"] == "elderly"
    # Writes succeed again, and the next layout shows them.
    assert http.put("/v1/me/settings", headers=writer, json=ELDERLY).status_code == 200
    assert http.get("/v1/layouts/home", headers=writer).json()["mode"] == "elderly"
    assert http.post("/v1/me/events", headers=writer, json=EVENTS).status_code == 202
    assert (
        http.get("/v1/admin/templates/home", headers=bearer("ann", "designer")).json()["template"][
            "title"
        ]
        != "during the outage"
    )


@pytest.fixture
def app_on_redis(
    redis_factory: Callable[..., RedisServer], tmp_path: Path
) -> Iterator[tuple[RedisServer, TestClient]]:
    redis = redis_factory(persistent=True)
    with TestClient(make_app(tmp_path, store_url=redis.url)) as client:
        yield redis, client


def test_a_template_reload_due_while_redis_is_down_keeps_serving_the_current_version(
    app_on_redis: tuple[RedisServer, TestClient],
) -> None:
    redis, client = app_on_redis
    service: Any = client.app.service  # type: ignore[attr-defined]
    user = bearer("reader")
    before = client.get("/v1/layouts/home", headers=user)
    compiled = service.live.pages["home"].compiled

    redis.stop()
    service.invalidate(Invalidation("template", "home"))  # a publish elsewhere, just heard
    during = client.get("/v1/layouts/home", headers=user)
    assert during.status_code == 200 and during.content == before.content
    assert during.headers["x-uiserver-degraded"] == "1"  # may be one version behind
    assert service.live.pages["home"].compiled is compiled
    assert client.get("/v1/layouts/home").status_code == 200

    redis.start()
    eventually(
        lambda: "x-uiserver-degraded" not in client.get("/v1/layouts/home", headers=user).headers,
        "template reloaded after the outage",
    )
    assert client.get("/v1/layouts/home", headers=user).content == before.content


def test_background_order_writes_fail_quietly_while_redis_is_down(
    app_on_redis: tuple[RedisServer, TestClient],
) -> None:
    """A user with enough evidence gets their order remembered in the background; with Redis
    down that write fails, is logged, and the launch is still a 200 from the cached profile."""
    redis, client = app_on_redis
    service: Any = client.app.service  # type: ignore[attr-defined]
    user = bearer("clicker")
    assert client.post("/v1/me/events", headers=user, json=EVENTS).status_code == 202
    assert client.get("/v1/layouts/home", headers=user).status_code == 200
    assert service.loader.cache["clicker"].evidence >= service.policy.min_evidence

    attempts: list[str] = []
    write = service.store.users.set_last_order

    async def observed(user_id: str, page: str, order: Any, epoch: int | None = None) -> None:
        attempts.append(page)
        await write(user_id, page, order, epoch)

    service.store.users.set_last_order = observed  # an observer: the real write still runs
    redis.stop()
    for width in (320, 360, 400, 768):  # memo misses with the profile cached: new plans
        response = client.get(f"/v1/layouts/home?width={width}", headers=user)
        assert response.status_code == 200
        assert "x-uiserver-degraded" not in response.headers
    assert client.portal is not None
    client.portal.call(_drain, service)
    assert not service.server.background
    assert attempts, "no background order write was attempted"

    redis.start()
    eventually(lambda: client.get("/readyz").status_code == 200, "readyz back to 200")
    assert client.post("/v1/me/events", headers=user, json=EVENTS).status_code == 202
    assert degraded_count(client) == 0  # nothing above needed the base layout


async def _drain(service: Any) -> None:
    """Wait for the service's background writes themselves to finish (they fail fast:
    refused); each leaves the set in its done callback, which runs before the wait ends."""
    async with asyncio.timeout(RECOVERY_DEADLINE_S):
        await asyncio.gather(*service.server.background, return_exceptions=True)


def test_a_redis_that_comes_back_empty_leaves_the_templates_serving(
    redis_factory: Callable[..., RedisServer], tmp_path: Path
) -> None:
    """Templates are never deleted, so a store without them lost its data (no persistence):
    the replica keeps serving the versions it holds instead of answering 404."""
    redis = redis_factory(persistent=False)
    with TestClient(make_app(tmp_path, store_url=redis.url)) as client:
        before = client.get("/v1/layouts/home")
        redis.stop()
        redis.start()  # empty
        eventually(lambda: client.get("/readyz").status_code == 200, "readyz back to 200")
        service: Any = client.app.service  # type: ignore[attr-defined]

        def revalidated() -> bool:  # the reload after reconnecting runs on the next GET
            client.get("/v1/layouts/cart")
            return not service.live.reload_all

        eventually(revalidated, "templates revalidated after reconnecting")
        after = client.get("/v1/layouts/home")
        assert after.status_code == 200 and after.content == before.content
        assert "x-uiserver-degraded" not in after.headers


def test_while_redis_is_down_one_probe_a_second_not_one_per_launch(
    app_on_redis: tuple[RedisServer, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a failed read, launches of uncached users are served degraded without asking
    Redis (a black-holed Redis would cost each of them a timeout); the resubscription when
    Redis is back ends that at once, without waiting for the next probe."""
    import uiserver.serving.breaker

    monkeypatch.setattr(
        uiserver.serving.breaker, "STORE_RETRY_SECONDS", 3600.0
    )  # no probe in this test
    redis, client = app_on_redis
    service: Any = client.app.service  # type: ignore[attr-defined]
    redis.stop()
    loads = service.loader.loads.computations
    first = client.get("/v1/layouts/home", headers=bearer("first"))
    assert first.headers["x-uiserver-degraded"] == "1"
    assert service.loader.loads.computations == loads + 1
    for n in range(10):
        later = client.get("/v1/layouts/home", headers=bearer(f"later-{n}"))
        assert later.status_code == 200 and later.headers["x-uiserver-degraded"] == "1"
    assert service.loader.loads.computations == loads + 1  # nobody else asked Redis

    redis.start()
    eventually(
        lambda: (
            "x-uiserver-degraded"
            not in client.get("/v1/layouts/home", headers=bearer("later-0")).headers
        ),
        "degraded mode over",
    )
