"""Races between replicas (issue 27, section 5), on SQLite and on a real Redis: another replica
writes the page between an admin write and its answer (`tests.helpers.races`), and every admin
write still answers from what its own transaction applied: no 500, no 404 for a write that
happened, no answer naming a rollout or archive marker that is not the one it wrote."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from tests.helpers.app import bearer, make_app
from tests.helpers.races import Act, competing_write
from uiserver.store.base import TemplateStore

DESIGNER = bearer("dora", "designer")
BASE = "/v1/admin/templates/home"


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@dataclass
class Replica:
    """The app under test (a TestClient on it) and how to reach the data it shares."""

    client: TestClient
    app: Any
    url: str
    directory: Path

    def race(self, monkeypatch: pytest.MonkeyPatch, act: Act) -> None:
        """`act` runs on another replica right after this app's next template write."""
        self.race_state = competing_write(monkeypatch, self.app, self.url, self.directory, act)

    @property
    def raced(self) -> bool:
        return self.race_state.fired == 1


@pytest.fixture
def replica(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Iterator[Replica]:
    url = str(request.getfixturevalue("redis_url")) if backend == "redis" else ""
    app = make_app(tmp_path, store_url=url)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Replica(client, app, url, tmp_path)


# --------------------------------------------------------------------------- what B does


async def republish(templates: TemplateStore) -> None:
    """Another replica publishes the page's newest version again (restores it if archived)."""
    head = (await templates.states("home"))["home"].head
    await templates.publish("home", head.version, head.document, "eve", "again", time.time())


async def archive(templates: TemplateStore) -> None:
    await templates.archive("home", "eve", time.time())


async def promote(templates: TemplateStore) -> None:
    await templates.end_rollout("home", "promote", "eve", time.time())


# --------------------------------------------------------------------------- helpers


def template(client: TestClient) -> tuple[str, dict[str, Any]]:
    body = client.get(BASE, headers=DESIGNER).json()
    return str(body["live_version"]), body["template"]


def titled(document: dict[str, Any], title: str) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    changed["title"] = title
    return changed


def publish(client: TestClient, document: dict[str, Any], **extra: Any) -> httpx.Response:
    response: httpx.Response = client.post(
        f"{BASE}/publish",
        headers=DESIGNER,
        json={"template": document, "message": "m", **extra},
    )
    return response


def staged(client: TestClient, percent: int = 20) -> tuple[str, str]:
    """(previous version, new version) of a rollout started at `percent`."""
    old, document = template(client)
    response = publish(client, titled(document, "staged"), rollout=percent)
    assert response.status_code == 201, response.text
    return old, str(response.json()["version"])


def versions(client: TestClient) -> list[dict[str, Any]]:
    body = client.get(f"{BASE}/history", headers=DESIGNER).json()
    return list(body["versions"])


# --------------------------------------------------------------------------- the inputs


def test_archive_answers_its_marker_while_another_replica_republishes(
    replica: Replica, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Was a 500 (the archive re-read the state and asserted it was archived)."""
    replica.race(monkeypatch, republish)
    response = replica.client.delete(BASE, headers=DESIGNER)
    assert replica.raced
    assert response.status_code == 200, response.text
    assert response.json()["page"] == "home"
    assert response.json()["archived"]["author"] == "dora"
    # What B did happened after: the page is live again, with B's entry on top.
    assert replica.client.get(BASE, headers=DESIGNER).status_code == 200
    assert versions(replica.client)[0]["author"] == "eve"


@pytest.mark.parametrize(
    ("route", "body", "expect_percent"),
    [
        pytest.param("rollout", {"percent": 60}, 60, id="rollout"),
        pytest.param("promote", None, None, id="promote"),
        pytest.param("abort", None, None, id="abort"),
    ],
)
def test_rollout_changes_answer_what_they_did_while_another_replica_archives(
    replica: Replica,
    monkeypatch: pytest.MonkeyPatch,
    route: str,
    body: dict[str, int] | None,
    expect_percent: int | None,
) -> None:
    """Was a 404 after the change was applied (the answer re-read the live page)."""
    old, new = staged(replica.client)
    replica.race(monkeypatch, archive)
    response = replica.client.post(f"{BASE}/{route}", headers=DESIGNER, json=body)
    assert replica.raced
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["live_version"] == (old if route == "abort" else new)
    if expect_percent is None:
        assert answer["rollout"] is None
    else:
        assert answer["rollout"]["percent"] == expect_percent
        assert (answer["rollout"]["version"], answer["rollout"]["previous"]) == (new, old)
    # The archive came after this write: the page is archived now, the history has the change.
    assert replica.client.get(BASE, headers=DESIGNER).status_code == 404
    if route == "abort":
        assert versions(replica.client)[0]["version"] == old


@pytest.mark.parametrize(
    "act", [pytest.param(promote, id="then-promoted"), pytest.param(archive, id="then-archived")]
)
def test_a_staged_publish_answers_the_rollout_it_started(
    replica: Replica, monkeypatch: pytest.MonkeyPatch, act: Act
) -> None:
    """Was `"rollout": null` for a publish that started a rollout at 30%."""
    old, document = template(replica.client)
    replica.race(monkeypatch, act)
    response = publish(replica.client, titled(document, "staged"), rollout=30)
    assert replica.raced
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["rollout"] is not None, answer
    assert answer["rollout"]["percent"] == 30
    assert (answer["rollout"]["version"], answer["rollout"]["previous"]) == (
        answer["version"],
        old,
    )
    assert answer["rollout"]["author"] == "dora"


def test_a_rollback_answers_its_own_entry_while_another_replica_archives(
    replica: Replica, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, document = template(replica.client)
    assert publish(replica.client, titled(document, "newer")).status_code == 201
    replica.race(monkeypatch, archive)
    response = replica.client.post(f"{BASE}/rollback", headers=DESIGNER, json={"version": old})
    assert replica.raced
    assert response.status_code == 201, response.text
    assert (response.json()["version"], response.json()["seq"]) == (old, 3)
    assert response.json()["rollout"] is None


# --------------------------------------------------------------------------- drafts


def test_a_draft_of_a_page_someone_archives_still_loads_and_saves(replica: Replica) -> None:
    """Was listed, but `GET` answered 404 until the page was republished."""
    client = replica.client
    live, _ = template(client)
    saved = client.put("/v1/admin/drafts/home", headers=DESIGNER, json={"text": "title: x"})
    assert saved.status_code == 200, saved.text
    assert client.delete(BASE, headers=bearer("eve", "designer")).status_code == 200

    listed = client.get("/v1/admin/drafts", headers=DESIGNER).json()["drafts"]
    assert [(d["page"], d["archived"]) for d in listed] == [("home", True)]
    got = client.get("/v1/admin/drafts/home", headers=DESIGNER)
    assert got.status_code == 200, got.text
    assert got.json() | {"updated": 0} == {
        "page": "home",
        "text": "title: x",
        "base_version": live,
        "updated": 0,
        "live_version": None,
        "archived": True,
    }
    # The designer keeps typing (autosave) after the archive: saved, not lost.
    again = client.put("/v1/admin/drafts/home", headers=DESIGNER, json={"text": "title: y"})
    assert again.status_code == 200, again.text
    assert client.get("/v1/admin/drafts/home", headers=DESIGNER).json()["text"] == "title: y"
    # A page never published still has no drafts.
    nowhere = client.put("/v1/admin/drafts/nowhere", headers=DESIGNER, json={"text": "x"})
    assert nowhere.status_code == 404


# --------------------------------------------------------------------------- leftovers


@pytest.mark.parametrize("route", ["rollout", "promote", "abort"])
def test_rollout_routes_on_a_page_never_published_are_404(replica: Replica, route: str) -> None:
    """Were 409 `no_rollout`, as if the page existed."""
    response = replica.client.post(
        f"/v1/admin/templates/nowhere/{route}", headers=DESIGNER, json={"percent": 10}
    )
    assert response.status_code == 404, response.text
    assert response.json()["error"]["field"] == "page"


@pytest.mark.parametrize("how", ["header", "body"])
def test_a_stale_base_is_409_even_when_the_content_is_the_live_version(
    replica: Replica, how: str
) -> None:
    """Was a 201 no-op: the precondition was checked only after the idempotence shortcut."""
    client = replica.client
    base, document = template(client)
    newer = publish(client, titled(document, "newer"))
    assert newer.status_code == 201
    precondition: dict[str, Any] = (
        {"headers": {**DESIGNER, "If-Match": f'"{base}"'}}
        if how == "header"
        else {"headers": DESIGNER}
    )
    body: dict[str, Any] = {"template": titled(document, "newer"), "message": "same"}
    if how == "body":
        body["base_version"] = base
    response = client.post(f"{BASE}/publish", json=body, **precondition)
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "stale_base"
    assert response.json()["live_version"] == newer.json()["version"]
    # Rollback to the live version on a stale base: the same.
    stale = client.post(
        f"{BASE}/rollback",
        headers={**DESIGNER, "If-Match": f'"{base}"'},
        json={"version": newer.json()["version"]},
    )
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_base"
