"""Issue 20 section 3 on two real `uiserver serve` replicas on one Redis, with the recorder's
real one-second flush: new users launch `home` on replica A and convert 0.2 s later through
replica B, before A has written their exposure markers. Every conversion counts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.app import bearer
from tests.helpers.processes import two_replicas, wait_until

pytestmark = [pytest.mark.redis, pytest.mark.slow]

USERS = 20
DESIGNER = bearer("ann", "designer")


@pytest.fixture
def replicas(redis_url: str, tmp_path: Path) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    with two_replicas(redis_url, tmp_path) as clients:
        yield clients


def readout(client: httpx.Client) -> dict[str, Any]:
    response = client.get("/v1/admin/experiments/home", headers=DESIGNER)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_converts_just_after_a_first_launch_count_on_the_other_replica(
    replicas: tuple[httpx.Client, httpx.Client],
) -> None:
    a, b = replicas
    for n in range(USERS):
        user = f"fresh{n}"
        assert a.get("/v1/layouts/home", headers=bearer(user)).status_code == 200
        time.sleep(0.2)
        event = {"page": "home", "component": "coupons", "kind": "convert", "ts": time.time()}
        posted = b.post("/v1/me/events", headers=bearer(user), json={"events": [event]})
        assert posted.status_code == 202, posted.text

    def all_counted() -> bool:
        time.sleep(0.1)
        body = readout(b)
        return bool(sum(v["conversions"] for v in body["variants"]) == USERS)

    counted, _ = wait_until(all_counted, time.perf_counter())
    assert counted, readout(b)["variants"]  # once A's recorder wrote the markers
    body = readout(a)
    assert sum(v["exposed_users"] for v in body["variants"]) == USERS
    assert sum(v["convert_events"] for v in body["variants"]) == USERS
    assert body["exposure_counting"] == "exact"
