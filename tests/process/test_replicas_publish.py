"""Safe publishing across two real `uiserver serve` replicas on one real Redis: racing
publishes on the same base, a staged rollout started on one replica and served by both."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.app import bearer
from tests.helpers.processes import two_replicas, wait_until

pytestmark = [pytest.mark.redis, pytest.mark.slow]
BASE = "/v1/admin/templates/home"
DESIGNER = bearer("ann", "designer")


@pytest.fixture
def replicas(redis_url: str, tmp_path: Path) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    with two_replicas(redis_url, tmp_path) as clients:
        yield clients


def titled(template: dict[str, Any], title: str) -> dict[str, Any]:
    return {**template, "title": title}


def race(
    start: threading.Barrier,
    answers: dict[str, httpx.Response],
    name: str,
    client: httpx.Client,
    body: dict[str, Any],
    base: str,
) -> None:
    start.wait()
    answers[name] = client.post(
        f"{BASE}/publish", json=body, headers={**DESIGNER, "If-Match": f'"{base}"'}
    )


def test_racing_publishes_on_the_same_base_one_wins_one_gets_409(
    replicas: tuple[httpx.Client, httpx.Client],
) -> None:
    a, b = replicas
    for round_ in range(5):
        current = a.get(BASE, headers=DESIGNER).json()
        base, template = current["live_version"], current["template"]
        answers: dict[str, httpx.Response] = {}
        start = threading.Barrier(2)

        threads = [
            threading.Thread(
                target=race,
                args=(
                    start,
                    answers,
                    name,
                    client,
                    {"template": titled(template, f"{name} {round_}"), "message": name},
                    base,
                ),
            )
            for name, client in (("a", a), ("b", b))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        statuses = sorted(r.status_code for r in answers.values())
        assert statuses == [201, 409], {n: r.text for n, r in answers.items()}
        winner = next(r for r in answers.values() if r.status_code == 201).json()["version"]
        loser = next(r for r in answers.values() if r.status_code == 409).json()
        assert loser["error"]["code"] == "stale_base" and loser["live_version"] == winner
        assert [c["kind"] for c in loser["changes"]] == ["changed"]
        history = a.get(f"{BASE}/history", headers=DESIGNER).json()["versions"]
        assert history[0]["version"] == winner and history[1]["version"] == base


def test_a_rollout_started_on_a_is_served_and_ended_through_b(
    replicas: tuple[httpx.Client, httpx.Client],
) -> None:
    a, b = replicas
    users = [f"ro-{i}" for i in range(100)]

    def versions(client: httpx.Client) -> dict[str, str]:
        return {
            u: client.get("/v1/layouts/home", headers=bearer(u)).json()["template_version"]
            for u in users
        }

    current = a.get(BASE, headers=DESIGNER).json()
    old = current["live_version"]
    assert set(versions(b).values()) == {old}  # B caches the old version first
    staged = a.post(
        f"{BASE}/publish",
        headers=DESIGNER,
        json={"template": titled(current["template"], "staged"), "message": "stage", "rollout": 30},
    )
    assert staged.status_code == 201, staged.text
    new = staged.json()["version"]

    seen, _ = wait_until(lambda: set(versions(b).values()) == {old, new}, time.perf_counter())
    assert seen, "B never served the rollout"
    on_a, on_b = versions(a), versions(b)
    assert on_a == on_b  # the same users get the new version on every replica
    assert 10 < sum(v == new for v in on_b.values()) < 50
    assert b.get("/v1/layouts/home").json()["template_version"] == old  # anonymous
    assert b.get(BASE, headers=DESIGNER).json()["rollout"]["percent"] == 30

    assert b.post(f"{BASE}/promote", headers=DESIGNER).status_code == 200
    seen, _ = wait_until(lambda: set(versions(a).values()) == {new}, time.perf_counter())
    assert seen, "A kept serving the previous version after the promote on B"
    assert a.get("/v1/layouts/home").json()["template_version"] == new

    assert a.delete(BASE, headers=DESIGNER).status_code == 200
    gone, _ = wait_until(lambda: b.get("/v1/layouts/home").status_code == 404, time.perf_counter())
    assert gone, "B still serves an archived page"
