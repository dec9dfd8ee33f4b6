"""Redis Cluster: a real 3-primary cluster (+3 replicas) of redis-server processes, created by
`redis-cli --cluster create`; the store on `redis-cluster://...`, then two `uiserver serve` on it
with the primary of the templates' slot killed and its replica promoted.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import cast

import httpx
import pytest
import redis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from tests.helpers.app import ELDERLY, bearer
from tests.helpers.processes import ServeProcess, eventually
from tests.helpers.redis import RedisClusterSet, RedisServer
from uiserver.schema import Event, Settings
from uiserver.store.base import Exposure, Invalidation
from uiserver.store.redis.keys import Keys
from uiserver.store.redis.store import RedisStore

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.anyio]

DESIGNER = bearer("ann", "designer")
KEYS = Keys("uiserver:", cluster=True)
# How long a store may take to subscribe (`RedisStore.open` returns as soon as it has): every
# one of the 4,096 user buckets' channels and the families' is confirmed one message at a time,
# 3.1-9.8 s in a coverage run on a busy 2-core machine (5 s failed the test there).
SUBSCRIBED_WITHIN_S = 60.0


async def heard_soon(heard: list[Invalidation], message: Invalidation) -> None:
    """Wait (without blocking the loop the subscriber runs on) until `message` was heard."""
    async with asyncio.timeout(5.0):
        while message not in heard:
            await asyncio.sleep(0.01)


def owner(cluster: RedisClusterSet, key: str) -> RedisServer:
    """The primary that serves `key`'s slot now (CLUSTER SLOTS of a running primary)."""
    wanted = key_slot(key.encode())
    with redis.Redis(port=cluster.primaries()[0].port, socket_timeout=1.0) as client:
        ranges = client.execute_command("CLUSTER SLOTS")
    port = next(int(r[2][1]) for r in ranges if r[0] <= wanted <= r[1])
    return next(n for n in cluster.nodes if n.port == port)


async def test_every_role_works_on_a_cluster_and_replicas_hear_each_other(
    shared_cluster: RedisClusterSet,
) -> None:
    a, b = RedisStore(shared_cluster.url), RedisStore(shared_cluster.url)
    await a.open(SUBSCRIBED_WITHIN_S)
    await b.open(SUBSCRIBED_WITHIN_S)
    heard: list[Invalidation] = []
    b.add_listener(heard.append)
    try:
        assert a.subscribed and b.subscribed
        # A user's keys span one slot: the one-round-trip read script and WATCHed writes work.
        await a.users.put_settings("alice", Settings(font_scale=1.5))
        assert (await b.users.get_profile("alice")).settings.font_scale == 1.5
        await heard_soon(heard, Invalidation("user", "alice"))
        # An event batch: the snapshot and compare-and-set scripts run in alice's slot.
        clicks = [Event(page="home", component="coupons", kind="click")] * 3
        assert await a.users.record_events("alice", clicks, time.time()) == 3
        assert (await b.users.get_profile("alice")).affinities
        # Many users in one call: one transaction per slot tag, each with its SPUBLISH.
        users = [f"user-{i}" for i in range(60)]
        assert len(KEYS.by_tag(users)) > 30
        assert await a.users.put_segments([(u, ["vip"]) for u in users]) == 60
        assert (await b.users.get_profile("user-59")).segments == frozenset({"vip"})
        await heard_soon(heard, Invalidation("user", "user-59"))
        await a.activity.record_activity(
            {u: (1, 1, 0) for u in users[:20]},
            [Exposure("exp1", "A", 20_000, u, True) for u in users[:20]],
        )
        # the experiment's counts, in their own slot, written after each group's transaction
        counts = await b.activity.experiment_counts("exp1", ["A"])
        assert counts[0].first_day == counts[0].last_day == 20_000
        # Templates and rollout state in their own slot; a publish reaches B.
        state = await a.templates.publish("home", "v1", b'{"page": "home"}', "ann", "m", 1.0)
        assert state.head.version == "v1"
        await heard_soon(heard, Invalidation("template", "home"))
        assert (await b.templates.states())["home"].head.version == "v1"
        # Erasure is final: the epoch is in the user's slot.
        await a.users.erase_user("alice")
        assert (await b.users.get_settings("alice")).font_scale == 1.0
        assert await b.users.erasure_epoch("alice") == 1
    finally:
        await a.close()
        await b.close()
    # No key of the store's is outside the slots named above: one slot per user's keys.
    alice_slots = {key_slot(k.encode()) for k in [*KEYS.of_user("alice"), KEYS.epoch("alice")]}
    assert len(alice_slots) == 1


async def test_transactions_stay_on_the_apps_loop_while_the_slot_map_is_read_again(
    shared_cluster: RedisClusterSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a node fails the cluster client re-reads its slot map before its next command.
    redis-py's own cluster transaction did that in a thread with an event loop of its own: node
    connections opened on that loop, closed when the thread ended, were then used by the app's
    loop (RuntimeError, a 500 on a settings PUT during a failover), or the client's lock bound to
    the app's loop was awaited from the thread's. Here the re-read is due before each round of
    WATCHed writes that run beside plain reads on the same client: every write lands, every read
    answers, and no thread is started."""
    store = RedisStore(shared_cluster.url)
    await store.open(5.0)
    client = cast(RedisCluster, store.conn.redis)
    started: list[str] = []
    start = threading.Thread.start

    def counted(thread: threading.Thread) -> None:
        started.append(thread.name)
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", counted)
    try:
        for n in range(10):
            client._initialize = True  # what a ConnectionError to a node sets
            scales = [1.0 + (n + i) % 5 / 10 for i in range(3)]
            writes = (
                store.users.put_settings(f"u{i}", Settings(font_scale=scale))
                for i, scale in enumerate(scales)
            )
            await asyncio.gather(*writes, *(client.get(f"plain-{i}") for i in range(3)))
            for i, scale in enumerate(scales):
                assert (await store.users.get_settings(f"u{i}")).font_scale == scale
    finally:
        monkeypatch.undo()
        await store.close()
    assert started == []


def traffic(
    a: ServeProcess,
    b: ServeProcess,
    writer: dict[str, str],
    statuses: list[tuple[float, str, int]],
    stop: threading.Event,
) -> None:
    """Layout GETs on A and B and settings PUTs on A until `stop`; each answer recorded with
    the time its request was sent (a PUT sent before the primary was killed and answered just
    after it says nothing of the failover: taken as "writes resumed", it let the test publish
    while the slot was still moving, a 503 by design)."""
    with a.client() as ta, b.client() as tb:
        n = 0
        while not stop.is_set():
            n += 1
            for name, client in (("get-a", ta), ("get-b", tb)):
                who = bearer(f"reader-{n % 5}")
                sent = time.monotonic()
                try:
                    code = client.get("/v1/layouts/home", headers=who).status_code
                except httpx.HTTPError:
                    code = 0
                statuses.append((sent, name, code))
            body = {**ELDERLY, "font_scale": 1.0 + (n % 5) / 10}
            sent = time.monotonic()
            try:
                code = ta.put("/v1/me/settings", headers=writer, json=body).status_code
            except httpx.HTTPError:
                code = 0
            statuses.append((sent, "put", code))
            time.sleep(0.02)


def test_a_primary_killed_under_traffic_its_replica_takes_over(
    cluster: RedisClusterSet, tmp_path: Path
) -> None:
    live = KEYS.group("tpl", "live")
    doomed = owner(cluster, live)
    # a user whose keys live on the same primary: their writes must move to the new one too
    writer_id = next(
        u for u in (f"writer-{i}" for i in range(5000)) if owner(cluster, KEYS.user(u)) is doomed
    )
    writer = bearer(writer_id)
    a = ServeProcess(tmp_path / "a", cluster.url)
    b = ServeProcess(tmp_path / "b", cluster.url, store_by_env=True)
    try:
        for server in (a.start(), b.start()):
            server.wait_ready()
        with a.client() as http_a, b.client() as http_b:
            assert http_a.put("/v1/me/settings", headers=writer, json=ELDERLY).status_code == 200
            assert http_b.get("/v1/layouts/home", headers=writer).json()["mode"] == "elderly"

            statuses: list[tuple[float, str, int]] = []
            stop = threading.Event()

            thread = threading.Thread(
                target=traffic, args=(a, b, writer, statuses, stop), daemon=True
            )
            thread.start()
            try:
                eventually(lambda: len(statuses) > 20, "traffic flowing")
                killed = time.monotonic()
                doomed.kill()

                def writes_back() -> bool:
                    return any(w == "put" and c == 200 and t > killed for t, w, c in statuses)

                resumed = eventually(writes_back, "a write on the promoted replica")
            finally:
                stop.set()
                thread.join(timeout=30)
            print(f"writes resumed {resumed:.2f} s after the primary was killed")
            gets = {c for _, w, c in statuses if w.startswith("get")}
            assert gets == {200}, gets
            assert {c for _, w, c in statuses if w == "put"} <= {200, 503}

            # The templates' slot moved: a publish on A lands on the new primary, and B's
            # sharded subscriber, resubscribed there, hears it. Resubscribed first: the session
            # B began after the kill confirms every channel one by one (SUBSCRIBED_WITHIN_S), and
            # a publish made before it has the templates' channel is only caught up by the
            # Invalidation("all") at its end (in 9 of 9 loaded runs B was still resubscribing
            # when A published, 2.4-3.2 s after the kill, and served it 0.4-1.6 s later).
            def b_listens() -> bool:
                return bool(http_b.get("/readyz").json()["invalidations"])

            eventually(b_listens, "B's subscriber back on the new primaries", SUBSCRIBED_WITHIN_S)
            template = http_a.get("/v1/admin/templates/home", headers=DESIGNER).json()["template"]
            published = http_a.post(
                "/v1/admin/templates/home/publish",
                headers=DESIGNER,
                json={"template": {**template, "title": "after failover"}, "message": "m"},
            )
            assert published.status_code == 201, published.text
            version = published.json()["version"]

            def b_serves() -> bool:
                body = http_b.get("/v1/layouts/home").json()
                return bool(body["template_version"] == version)

            eventually(b_serves, "B serves what A published after the failover", 5.0)
    finally:
        a.stop()
        b.stop()
