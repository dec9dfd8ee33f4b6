"""Two real `uiserver serve` replicas on one real Redis: what one changes, the other serves.

Replica A gets its store from `--store`, replica B from `UISERVER_STORE`; both share the test
JWT secret, so one token works on both. Every change goes through A's HTTP API and is read back
through B, whose caches hold the old state first (warmed before the change), so B only gets it
right through the pub/sub invalidation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from tests.helpers.app import ELDERLY, bearer, make_app
from tests.helpers.processes import POLL_DEADLINE_S, two_replicas, wait_until
from uiserver.catalog import load_template_file
from uiserver.publishing.filesync import FILE_AUTHOR

pytestmark = [pytest.mark.redis, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
# The freshness requirement: B serves a version published on A within one second.
VISIBLE_WITHIN_S = 1.0
DESIGNER = bearer("ann", "designer")


@pytest.fixture
def replicas(redis_url: str, tmp_path: Path) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    with two_replicas(redis_url, tmp_path) as clients:
        yield clients


def publish(client: httpx.Client, page: str, template: dict[str, Any], message: str) -> str:
    response = client.post(
        f"/v1/admin/templates/{page}/publish",
        headers=DESIGNER,
        json={"template": template, "message": message},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["version"])


def test_publish_and_rollback_on_a_are_served_by_b_within_a_second(
    replicas: tuple[httpx.Client, httpx.Client],
) -> None:
    a, b = replicas
    user = bearer("pub-reader")
    current = a.get("/v1/admin/templates/home", headers=DESIGNER)
    assert current.status_code == 200, current.text
    original = current.json()["live_version"]
    assert b.get("/v1/layouts/home", headers=user).json()["template_version"] == original
    assert b.get("/v1/layouts/home").json()["template_version"] == original  # anonymous

    template = current.json()["template"]
    template["title"] = template["title"] + " (spring edition)"
    new = publish(a, "home", template, "spring title")
    published = time.perf_counter()
    assert new != original

    def b_serves(version: str) -> Callable[[], bool]:
        return lambda: b.get("/v1/layouts/home", headers=user).json()["template_version"] == version

    seen, delay = wait_until(b_serves(new), published)
    print(f"publish on A visible on B after {delay * 1000:.1f} ms")  # shown with -rP
    assert seen, f"B still serves the old version {POLL_DEADLINE_S} s after the publish"
    assert delay <= VISIBLE_WITHIN_S, f"B served the new version after {delay:.3f} s"
    assert b.get("/v1/layouts/home").json()["template_version"] == new
    assert b.get("/v1/admin/templates/home", headers=DESIGNER).json()["live_version"] == new

    rollback = a.post(
        "/v1/admin/templates/home/rollback", headers=DESIGNER, json={"version": original}
    )
    assert rollback.status_code == 201, rollback.text
    rolled_back = time.perf_counter()
    seen, delay = wait_until(b_serves(original), rolled_back)
    print(f"rollback on A visible on B after {delay * 1000:.1f} ms")
    assert seen and delay <= VISIBLE_WITHIN_S, f"rollback visible on B after {delay:.3f} s"


def test_settings_change_through_a_shows_in_bs_next_layout(
    replicas: tuple[httpx.Client, httpx.Client],
) -> None:
    a, b = replicas
    user = bearer("grandpa")
    before = b.get("/v1/layouts/home", headers=user)
    assert before.json()["mode"] == "standard"
    assert b.get("/v1/layouts/home", headers=user).headers["etag"] == before.headers["etag"]

    assert a.put("/v1/me/settings", headers=user, json=ELDERLY).status_code == 200

    after = b.get("/v1/layouts/home", headers=user)
    assert after.status_code == 200 and after.json()["mode"] == "elderly"
    assert after.headers["etag"] != before.headers["etag"]
    stored = {**ELDERLY, "elderly_prompt": "unanswered"}  # a PUT without it keeps the answer
    assert b.get("/v1/me/settings", headers=user).json() == stored


def test_segments_imported_on_a_reach_bs_layouts(
    replicas: tuple[httpx.Client, httpx.Client],
) -> None:
    a, b = replicas
    user = bearer("lapsed")

    def ids() -> list[str]:
        return [c["id"] for c in b.get("/v1/layouts/home", headers=user).json()["components"]]

    assert "welcome_back" not in ids()
    imported = a.put(
        "/v1/admin/segments",
        headers=DESIGNER,
        json=[{"user": "lapsed", "segments": ["churn_risk"]}],
    )
    assert imported.status_code == 200, imported.text
    assert "welcome_back" in ids()


def test_erasure_through_a_leaves_nothing_in_b(
    replicas: tuple[httpx.Client, httpx.Client],
) -> None:
    a, b = replicas
    user = bearer("ivy")

    def stored(user_id: str) -> dict[str, Any]:
        response = b.get("/v1/me/data", headers=bearer(user_id))
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        data.pop("user_id", None)
        return data

    assert a.put("/v1/me/settings", headers=user, json=ELDERLY).status_code == 200
    events = [{"page": "home", "component": "coupons", "kind": "click"}] * 20
    assert a.post("/v1/me/events", headers=user, json={"events": events}).status_code == 202
    assert b.get("/v1/layouts/home", headers=user).json()["mode"] == "elderly"  # B caches ivy
    assert stored("ivy") != stored("never-seen")

    assert a.delete("/v1/me", headers=user).status_code == 200

    assert stored("ivy") == stored("never-seen")
    after = b.get("/v1/layouts/home", headers=user)
    assert after.status_code == 200 and after.json()["mode"] == "standard"
    assert (
        after.json()["personalization"]["changes"]
        == b.get("/v1/layouts/home", headers=bearer("never-seen")).json()["personalization"][
            "changes"
        ]
    )


def test_a_replica_starting_later_does_not_undo_a_publish(redis_url: str, tmp_path: Path) -> None:
    """A new replica publishes `layouts/` files only when they changed since they were last
    published from files: it must not put the file version back over a console publish."""
    from starlette.testclient import TestClient

    file_template = load_template_file(ROOT / "layouts" / "cart.yaml")
    edited = msgspec.structs.replace(file_template, title=file_template.title + " (edited)")
    with TestClient(make_app(tmp_path / "one", store_url=redis_url)) as first:
        service = first.app.service  # type: ignore[attr-defined]
        assert first.portal is not None
        publish = service.publisher.publish
        record = first.portal.call(publish, "cart", edited, "ann", "from the console").head
    with TestClient(make_app(tmp_path / "two", store_url=redis_url)) as second:
        service = second.app.service  # type: ignore[attr-defined]
        assert service.live.pages["cart"].record.version == record.version
        assert second.get("/v1/layouts/cart").json()["template_version"] == record.version
        authors = [r.author for r in second.portal.call(service.publisher.history, "cart")]  # type: ignore[union-attr]
        assert authors == ["ann", FILE_AUTHOR]
