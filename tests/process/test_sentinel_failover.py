"""Redis Sentinel: the primary dies under steady traffic, a replica takes over, nothing
acknowledged as durable is lost.

Real processes: a primary, a replica, three `redis-server --sentinel`s and two `uiserver serve`
replicas on `redis+sentinel://...` (A by `--store`, B by `UISERVER_STORE`). Durable writes
(template writes, erasure) wait for one replica within 500 ms (`wait_timeout_ms=500`).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.helpers.app import ELDERLY, bearer
from tests.helpers.processes import ServeProcess, eventually
from tests.helpers.redis import RedisServer, ReplicaServer, SentinelSet

pytestmark = [pytest.mark.redis, pytest.mark.slow]

DESIGNER = bearer("ann", "designer")
FAILOVER_BUDGET_S = 20.0  # kill -> first write answered by the new primary (1 s down-after)
LARGE = {**ELDERLY, "elderly_mode": "off", "font_scale": 1.5}


def replicated(server: RedisServer) -> bool:
    with redis.Redis(port=server.port, socket_timeout=1.0) as client:
        return bool(client.info("replication").get("master_link_status") == "up")


@dataclass
class Deployment:
    primary: RedisServer
    replica: RedisServer
    sentinels: SentinelSet
    a: httpx.Client
    b: httpx.Client
    tmp: Path
    extra: list[RedisServer] = field(default_factory=list)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    primary = RedisServer(tmp_path / "primary")
    replica = ReplicaServer(tmp_path / "replica", primary.port)
    sentinels = SentinelSet(tmp_path / "sentinels", primary.port)
    url = sentinels.url("wait_timeout_ms=500")
    a = ServeProcess(tmp_path / "a", url)
    b = ServeProcess(tmp_path / "b", url, store_by_env=True)
    extra: list[RedisServer] = []
    try:
        primary.start()
        replica.start()
        eventually(lambda: replicated(replica), "the replica in sync")
        sentinels.start()
        sentinels.wait_watching(replicas=1)
        for server in (a.start(), b.start()):
            server.wait_ready()
        with a.client() as client_a, b.client() as client_b:
            yield Deployment(primary, replica, sentinels, client_a, client_b, tmp_path, extra)
    finally:
        a.stop()
        b.stop()
        sentinels.stop()
        for redis_server in (primary, replica, *extra):
            redis_server.stop()


def publish(client: httpx.Client, title: str) -> httpx.Response:
    template = client.get("/v1/admin/templates/home", headers=DESIGNER).json()["template"]
    return client.post(
        "/v1/admin/templates/home/publish",
        headers=DESIGNER,
        json={"template": {**template, "title": title}, "message": title},
    )


def live_title(client: httpx.Client) -> str:
    return str(client.get("/v1/admin/templates/home", headers=DESIGNER).json()["template"]["title"])


class Traffic:
    """Layout GETs on both replicas and settings PUTs on A, in a loop on a thread, each answer
    recorded as (monotonic time its request was sent, what, status): a PUT sent before the
    primary was killed and answered just after says nothing of the failover (recorded when
    answered, it read as "a write answered by the new primary" 0.00 s after the kill, as in
    test_cluster before 71ec1eb)."""

    def __init__(self, deployment: Deployment) -> None:
        self.d = deployment
        self.seen: list[tuple[float, str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        writer, n = bearer("steady-writer"), 0
        a = httpx.Client(base_url=str(self.d.a.base_url), timeout=5.0)
        b = httpx.Client(base_url=str(self.d.b.base_url), timeout=5.0)
        with a, b:
            while not self._stop.is_set():
                n += 1
                for name, client in (("get-a", a), ("get-b", b)):
                    user = bearer(f"reader-{n % 7}")
                    sent = time.monotonic()
                    self.seen.append((sent, name, self._status(client, user)))
                body = {**LARGE, "font_scale": 1.0 + (n % 5) / 10}
                sent = time.monotonic()
                status = self._status(a, writer, body)
                self.seen.append((sent, "put", status))
                time.sleep(0.02)

    @staticmethod
    def _status(client: httpx.Client, who: dict[str, str], body: Any = None) -> int:
        try:
            if body is None:
                return client.get("/v1/layouts/home", headers=who).status_code
            return client.put("/v1/me/settings", headers=who, json=body).status_code
        except httpx.HTTPError:
            return 0

    def puts_ok_after(self, when: float) -> list[float]:
        return [t for t, what, status in self.seen if what == "put" and status == 200 and t > when]


def test_a_failover_under_traffic_keeps_layouts_answering_and_loses_no_durable_write(
    deployment: Deployment,
) -> None:
    d = deployment
    gone = bearer("to-be-erased")

    # A publish the replica cannot confirm (frozen) is not acknowledged: 503, not 201.
    d.replica.signal(signal.SIGSTOP)
    try:
        unconfirmed = publish(d.a, "not confirmed")
        assert unconfirmed.status_code == 503, unconfirmed.text
        assert unconfirmed.json()["error"]["code"] == "store_unavailable"
    finally:
        d.replica.signal(signal.SIGCONT)
    eventually(lambda: replicated(d.replica), "the replica back in sync")

    # Acknowledged durable writes before the failover: a publish and an erasure.
    assert d.a.put("/v1/me/settings", headers=gone, json=ELDERLY).status_code == 200
    assert d.a.delete("/v1/me", headers=gone).status_code in (200, 204)
    published = publish(d.a, "acknowledged before the failover")
    assert published.status_code == 201, published.text
    eventually(lambda: live_title(d.b) == "acknowledged before the failover", "B sees it")

    with Traffic(d) as traffic:
        eventually(lambda: len(traffic.puts_ok_after(0)) >= 3, "steady traffic flowing")
        killed = time.monotonic()
        d.primary.kill()
        eventually(
            lambda: d.sentinels.primary_port_now() == d.replica.port,
            "the sentinels promote the replica",
        )
        eventually(
            lambda: bool(traffic.puts_ok_after(killed + 0.001)),
            "a settings write answered by the new primary",
            FAILOVER_BUDGET_S,
        )
        resumed = traffic.puts_ok_after(killed)[0] - killed
        time.sleep(0.3)  # a few more requests on the new primary
    print(f"writes resumed {resumed:.2f} s after the primary was killed")  # shown with -rP

    gets = [status for _, what, status in traffic.seen if what.startswith("get")]
    assert gets and all(status == 200 for status in gets), sorted(set(gets))
    puts = {status for _, what, status in traffic.seen if what == "put"}
    assert puts <= {200, 503}, puts  # unavailable for the failover, never a 500
    assert resumed <= FAILOVER_BUDGET_S

    # Nothing acknowledged as durable was lost: the new primary has the publish and the erasure.
    assert live_title(d.a) == "acknowledged before the failover"
    assert live_title(d.b) == "acknowledged before the failover"
    assert d.b.get("/v1/me/settings", headers=gone).json() != ELDERLY

    # No replica left to confirm a durable write: refused, until one replicates the new primary.
    assert publish(d.a, "no replica yet").status_code == 503
    d.extra.append(ReplicaServer(d.tmp / "replacement", d.replica.port))
    d.extra[0].start()
    eventually(lambda: replicated(d.extra[0]), "a replacement replica in sync")
    after = publish(d.a, "after the failover")
    assert after.status_code == 201, after.text
    version = after.json()["version"]

    # B's subscriber moved to the new primary: it hears A's publish and serves it.
    def b_serves_it() -> bool:
        return bool(d.b.get("/v1/layouts/home").json()["template_version"] == version)

    eventually(b_serves_it, "B serves what A published on the new primary", 5.0)
