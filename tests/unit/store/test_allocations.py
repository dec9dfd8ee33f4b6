"""Each template version's bucket allocation in both stores: made from the true predecessor inside
the publish transaction, kept with the record across restarts and store instances, through
staged rollouts, aborts, rollbacks, archive and restore, and read from databases written before
bucketing scheme 3."""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
import redis

from tests.helpers.redis import RedisServer
from tests.helpers.stores import NOW, store_factory
from uiserver.engine.allocation import Allocation, allocate
from uiserver.store.allocations import served
from uiserver.store.base import PublishOptions, Store, TemplateRecord
from uiserver.store.factory import SQLITE_FILE

pytestmark = pytest.mark.anyio

EXP = "home_deals_position_v1"
Weights = list[tuple[str, int]]


def doc(weights: Weights, experiment: str | None = EXP, **more: object) -> bytes:
    """A template document as far as the allocation reads it (the store keeps any bytes)."""
    body: dict[str, object] = {"page": "home", **more}
    if experiment is not None:
        body["experiment"] = experiment
        body["variants"] = [{"name": n, "weight": w} for n, w in weights]
    return json.dumps(body, sort_keys=True).encode()


def version(weights: Weights, experiment: str | None = EXP, tag: str = "") -> str:
    return "v-" + "-".join(f"{n}{w}" for n, w in weights) + f"-{experiment}{tag}"


async def publish(
    store: Store, weights: Weights, experiment: str | None = EXP, **options: object
) -> TemplateRecord:
    state = await store.templates.publish(
        "home",
        version(weights, experiment),
        doc(weights, experiment),
        "ann",
        "edit",
        NOW,
        msgspec.convert(options, PublishOptions) if options else None,
    )
    return state.head


def decoded(record: TemplateRecord) -> Allocation:
    return Allocation.decode(record.allocation)


@pytest.fixture
def url(backend: str, request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("redis_url")) if backend == "redis" else ""


async def test_each_publish_edits_the_live_allocation(store: Store) -> None:
    v1 = await publish(store, [("control", 50), ("deals_first", 50)])
    first = decoded(v1)
    assert first.table == allocate(EXP, [("control", 50), ("deals_first", 50)], None).table
    assert first.counts() == {"control": 5000, "deals_first": 5000}

    v2 = await publish(store, [("control", 50), ("deals_first", 60)])
    grown = allocate(EXP, [("control", 50), ("deals_first", 60)], first)
    assert decoded(v2).table == grown.table
    moved = {(first.variant(p), grown.variant(p)) for p in range(10_000)} - {
        ("control", "control"),
        ("deals_first", "deals_first"),
    }
    assert moved == {("control", "deals_first")}

    v3 = await publish(store, [("control", 50), ("deals_first", 60)], experiment="other")
    assert (
        decoded(v3).table == allocate("other", [("control", 50), ("deals_first", 60)], None).table
    )
    v4 = await publish(store, [], experiment=None)
    assert v4.allocation == b""
    assert served(v4) is None


async def test_the_allocation_survives_a_restart_and_is_the_same_everywhere(
    url: str, tmp_path: Path
) -> None:
    async with store_factory(url, tmp_path) as make:
        one, two = await make(), await make()
        v1 = await publish(one, [("a", 1), ("b", 1), ("c", 1)])
        v2 = await publish(two, [("a", 1), ("b", 2), ("c", 1)])
        assert (await one.templates.live_template("home")) == v2
        assert (await two.templates.get_version("home", v1.version)) == v1
    async with store_factory(url, tmp_path) as make:  # every instance closed: a restart
        again = await make()
        live = await again.templates.live_template("home")
        assert live is not None and live.allocation == v2.allocation
        assert [r.allocation for r in await again.templates.history("home")] == [
            v2.allocation,
            v1.allocation,
        ]
        assert decoded(live).counts() == {"a": 2500, "b": 5000, "c": 2500}


@pytest.mark.redis
async def test_a_redis_server_restart_keeps_the_allocation(
    redis_factory: Callable[..., RedisServer], tmp_path: Path
) -> None:
    server = redis_factory(persistent=True)
    async with store_factory(server.url, tmp_path) as make:
        v1 = await publish(await make(), [("control", 90), ("variant", 10)])
    server.stop()
    server.start()
    async with store_factory(server.url, tmp_path) as make:
        live = await (await make()).templates.live_template("home")
    assert live == v1
    assert decoded(v1).counts() == {"control": 9000, "variant": 1000}


def _publisher(
    url: str, directory: Path, weights: list[Weights], errors: list[BaseException]
) -> threading.Thread:
    """A replica in its own thread and event loop, publishing each weight set in turn."""

    async def run() -> None:
        async with store_factory(url, directory) as make:
            store = await make()
            for w in weights:
                await publish(store, w)

    def main() -> None:
        try:
            asyncio.run(run())
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    return threading.Thread(target=main)


async def test_concurrent_publishes_never_skip_an_edit(url: str, tmp_path: Path) -> None:
    """Two replicas publish at once, each its own sequence of weights: every entry's allocation
    is the edit of the entry before it in the history, whoever wrote that one."""
    async with store_factory(url, tmp_path) as make:
        await publish(await make(), [("control", 50), ("deals_first", 50)])
    one = [[("control", 50 + i), ("deals_first", 50)] for i in range(1, 7)]
    two = [[("control", 50), ("deals_first", 50 + 3 * i), ("new", i)] for i in range(1, 7)]
    errors: list[BaseException] = []
    threads = [_publisher(url, tmp_path, one, errors), _publisher(url, tmp_path, two, errors)]
    for thread in threads:
        thread.start()
    for thread in threads:
        await asyncio.to_thread(thread.join, 60)
    assert not errors, errors
    async with store_factory(url, tmp_path) as make:
        history = sorted(await (await make()).templates.history("home"), key=lambda r: r.seq)
    assert len(history) == 13
    for before, after in itertools.pairwise(history):
        weights = [(v["name"], v["weight"]) for v in json.loads(after.document)["variants"]]
        assert decoded(after).table == allocate(EXP, weights, decoded(before)).table, after.seq


async def test_rollouts_aborts_rollbacks_and_restores_keep_their_allocations(
    store: Store,
) -> None:
    v1 = await publish(store, [("control", 50), ("deals_first", 50)])
    v2 = await publish(store, [("control", 90), ("deals_first", 10)], rollout=10)
    state = (await store.templates.states("home"))["home"]
    assert state.head == v2 and state.previous == v1  # both live versions keep their own
    assert (
        decoded(v2).table
        == allocate(EXP, [("control", 90), ("deals_first", 10)], decoded(v1)).table
    )

    back = (await store.templates.end_rollout("home", "abort", "ann", NOW)).head
    assert back.version == v1.version and back.seq == 3
    assert back.allocation == v1.allocation  # the others' allocation, as they were served

    v3 = await publish(store, [("control", 70), ("deals_first", 30)], rollout=50)
    v4 = await publish(store, [("control", 60), ("deals_first", 40)], running="abort")
    history = await store.templates.history("home")
    kept = history[1]  # the previous version re-entered by the abort, then v4 made from it
    assert kept.version == back.version and kept.allocation == back.allocation
    assert (
        decoded(v4).table
        == allocate(EXP, [("control", 60), ("deals_first", 40)], decoded(kept)).table
    )
    assert v3.allocation != v4.allocation

    rollback = (
        await store.templates.publish("home", v1.version, v1.document, "ann", "rollback", NOW + 1)
    ).head
    assert (
        decoded(rollback).table
        == allocate(EXP, [("control", 50), ("deals_first", 50)], decoded(v4)).table
    )  # a rollback is an edit of what is served now, not the old table

    await store.templates.archive("home", "ann", NOW + 2)
    restored = await publish(store, [("control", 50), ("deals_first", 50), ("c", 50)])
    assert (
        decoded(restored).table
        == allocate(EXP, [("control", 50), ("deals_first", 50), ("c", 50)], decoded(rollback)).table
    )


async def test_sqlite_database_before_scheme_3_reads_initial_allocations(tmp_path: Path) -> None:
    async with store_factory("", tmp_path) as make:
        await publish(await make(), [("control", 50), ("deals_first", 50)])
    with sqlite3.connect(tmp_path / SQLITE_FILE) as conn:  # as an older release left it
        conn.execute("ALTER TABLE templates DROP COLUMN allocation")
    async with store_factory("", tmp_path) as make:
        store = await make()
        old = await store.templates.live_template("home")
        assert old is not None and old.allocation == b""
        found = served(old)
        assert found is not None
        assert found.table == allocate(EXP, [("control", 50), ("deals_first", 50)], None).table
        v2 = await publish(store, [("control", 40), ("deals_first", 60)])
        edit = allocate(EXP, [("control", 40), ("deals_first", 60)], found)
        assert decoded(v2).table == edit.table


@pytest.mark.redis
async def test_redis_records_before_scheme_3_read_initial_allocations(redis_url: str) -> None:
    record = {
        "page": "home",
        "version": "old",
        "document": doc([("control", 1), ("deals_first", 1)]),
        "author": "ann",
        "message": "old",
        "created": NOW,
        "seq": 1,
    }  # a record as an older release encoded it: no allocation field
    raw = msgspec.msgpack.encode(record)
    with redis.Redis.from_url(redis_url) as client:
        client.hset("uiserver:tpl:home", "1", raw)
        client.hset("uiserver:tplver:home", "old", raw)
        client.hset("uiserver:live", "home", raw)
    async with store_factory(redis_url, Path(".")) as make:
        store: Store = await make()
        old = await store.templates.live_template("home")
        assert old is not None and old.version == "old" and old.allocation == b""
        found = served(old)
        assert found is not None and found.counts() == {"control": 5000, "deals_first": 5000}
        v2 = await publish(store, [("control", 1), ("deals_first", 3)])
        edit = allocate(EXP, [("control", 1), ("deals_first", 3)], found)
        assert decoded(v2).table == edit.table


async def test_an_unreadable_stored_allocation_serves_the_initial_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    weights = [("control", 1), ("deals_first", 1)]
    record = TemplateRecord("home", "v", doc(weights), "ann", "m", NOW, 1, "", b"\x01junk")
    found = served(record)
    assert found is not None and found.table == allocate(EXP, weights, None).table
    assert "stored allocation unreadable" in caplog.text
    foreign = allocate("other", weights, None).encode()
    again = served(msgspec.structs.replace(record, allocation=foreign))
    assert again is not None and again.experiment == EXP


THREE: Weights = [("control", 4), ("deals_first", 9), ("third", 3)]
THREE_EDITED: Weights = [("control", 5), ("deals_first", 9), ("third", 7)]


@pytest.mark.parametrize(
    "away",
    [
        pytest.param({"experiment": "other"}, id="another-experiment"),
        pytest.param({"experiment": None}, id="no-experiment"),
    ],
)
async def test_an_experiment_id_changed_and_back_keeps_its_users(
    store: Store, away: dict[str, str | None]
) -> None:
    """A -> (edited A) -> B -> A: A's users get their A variants back (the edited allocation),
    not A's initial one (which differs by 1,502 buckets for these three-variant weights);
    the same after A was switched off (no experiment) and on again."""
    await publish(store, THREE)
    edited = decoded(await publish(store, THREE_EDITED))
    assert edited.table != allocate(EXP, THREE_EDITED, None).table  # the inputs matter
    await publish(store, [("control", 1), ("deals_first", 1)], experiment=away["experiment"])
    back = await store.templates.publish(
        "home", version(THREE_EDITED, tag="-back"), doc(THREE_EDITED), "ann", "back", NOW
    )
    assert decoded(back.head).table == edited.table
    again = await publish(store, [("control", 5), ("deals_first", 9), ("third", 8)])
    grown = allocate(EXP, [("control", 5), ("deals_first", 9), ("third", 8)], edited)
    assert decoded(again).table == grown.table  # later edits go on from there
