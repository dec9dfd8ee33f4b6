"""Erasure is final: stale writes are refused on both stores, and after an erase
nothing about the user is left on disk (SQLite's database, `-wal` and `-shm` files)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import msgspec
import pytest
import redis
from starlette.testclient import TestClient

from tests.helpers.app import bearer, make_app
from tests.helpers.redis import RedisServer
from tests.helpers.stores import StoreFactory, store_factory
from uiserver.engine.hashing import ERASURE_BUCKETS, erasure_bucket
from uiserver.schema import Event, Settings
from uiserver.store.base import ErasedMeanwhile, Invalidation, Store
from uiserver.store.redis.keys import USER_KEY_KINDS
from uiserver.store.redis.store import RedisStore
from uiserver.store.sqlite.store import SQLiteStore

NOW = 1_700_000_000.0
CLICKS = [Event(page="home", component="coupons", kind="click")] * 12


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("redis", id="redis", marks=pytest.mark.redis),
    ]
)
async def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """Stores of the backend under test on the same data: two of them are two replicas."""
    url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    async with store_factory(url, tmp_path) as make:
        yield make


async def fill(store: Store, user: str) -> None:
    await store.users.put_settings(user, Settings(handedness="left"))
    await store.users.record_events(user, CLICKS, NOW)
    await store.users.put_segments([(user, ["churn_risk"])])
    await store.users.set_last_order(user, "home", ["a", "b"])


# --------------------------------------------------------------------------- stale writes

WRITES: dict[str, Callable[[Store, str, int], Awaitable[object]]] = {
    "last_order": lambda s, u, e: s.users.set_last_order(u, "home", ["b", "a"], e),
    "events": lambda s, u, e: s.users.record_events(u, CLICKS, NOW + 5, e),
    "put_settings": lambda s, u, e: s.users.put_settings(u, Settings(elderly_mode="on"), e),
    "update_settings": lambda s, u, e: s.users.update_settings(
        u, lambda cur: msgspec.structs.replace(cur, font_scale=1.5), e
    ),
}


@pytest.mark.anyio
@pytest.mark.parametrize("write", list(WRITES))
async def test_a_write_that_read_before_an_erase_stores_nothing(
    make_store: StoreFactory, write: str
) -> None:
    """The write read the profile on one replica; the erase ran on another."""
    reader, eraser = await make_store(), await make_store()
    await fill(reader, "ada")
    fresh = await eraser.users.export_user("never-seen")
    profile = await reader.users.get_profile("ada")
    assert profile.last_order == {"home": ["a", "b"]} and profile.evidence == 12

    await eraser.users.erase_user("ada")
    with pytest.raises(ErasedMeanwhile):
        await WRITES[write](reader, "ada", profile.epoch)

    after = await reader.users.export_user("ada")
    assert msgspec.structs.replace(after, user_id="") == msgspec.structs.replace(fresh, user_id="")


@pytest.mark.anyio
@pytest.mark.parametrize("write", list(WRITES))
async def test_a_write_that_read_after_the_erase_lands(
    make_store: StoreFactory, write: str
) -> None:
    store = await make_store()
    await fill(store, "bo")
    await store.users.erase_user("bo")
    epoch = await store.users.erasure_epoch("bo")
    assert epoch == (await store.users.get_profile("bo")).epoch == 1
    await WRITES[write](store, "bo", epoch)
    after = await store.users.export_user("bo")
    if write == "last_order":  # the served order is stored, not `updated`
        assert after.last_order == {"home": ["b", "a"]}
    else:
        assert after.updated is not None


@pytest.mark.anyio
async def test_other_users_writes_are_not_refused(make_store: StoreFactory) -> None:
    store = await make_store()
    other = next(f"u{i}" for i in range(10_000) if erasure_bucket(f"u{i}") != erasure_bucket("cy"))
    epoch = await store.users.erasure_epoch(other)
    await store.users.erase_user("cy")
    await store.users.set_last_order(other, "home", ["x"], epoch)
    assert (await store.users.get_profile(other)).last_order == {"home": ["x"]}


@pytest.mark.anyio
@pytest.mark.redis
async def test_redis_erase_between_read_and_exec_refuses_the_write(redis_url: str) -> None:
    """The erase lands while the write holds its WATCH (inside `update`): EXEC fails, the
    retry sees the new epoch and stores nothing."""
    store = RedisStore(redis_url)
    await store.open()
    try:
        await fill(store, "dee")
        epoch = await store.users.erasure_epoch("dee")
        fresh = await store.users.export_user("never-seen")
        erased: list[bool] = []

        def erase_now(current: Settings) -> Settings:
            if not erased:  # what another replica's erase does, on another connection
                with redis.Redis.from_url(redis_url) as other:
                    other.delete(*[f"uiserver:{kind}:dee" for kind in USER_KEY_KINDS])
                    other.incr(f"uiserver:erased:{erasure_bucket('dee')}")
                erased.append(True)
            return msgspec.structs.replace(current, font_scale=2.0)

        with pytest.raises(ErasedMeanwhile):
            await store.users.update_settings("dee", erase_now, epoch)
        after = msgspec.structs.replace(await store.users.export_user("dee"), user_id="")
        assert after == msgspec.structs.replace(fresh, user_id="")
    finally:
        await store.close()


def test_buckets_are_stable_and_spread() -> None:
    assert erasure_bucket("ada") == erasure_bucket("ada")
    buckets = {erasure_bucket(f"user-{i}") for i in range(20_000)}
    assert len(buckets) > ERASURE_BUCKETS * 0.95
    assert all(0 <= b < ERASURE_BUCKETS for b in buckets)


# --------------------------------------------------------------------------- by construction


@pytest.mark.anyio
async def test_sqlite_erases_a_per_user_table_added_later(tmp_path: Path) -> None:
    """Any table with a `user_id` column is erased (per-user counters, for example)."""
    store = SQLiteStore(tmp_path / "u.db")
    await store.open()
    with sqlite3.connect(tmp_path / "u.db") as conn:
        conn.execute("CREATE TABLE counters (user_id TEXT, name TEXT, n INTEGER)")
        conn.execute("INSERT INTO counters VALUES ('eve', 'launches', 3), ('flo', 'launches', 1)")
    conn.close()
    await store.users.erase_user("eve")
    with sqlite3.connect(tmp_path / "u.db") as conn:
        rows = conn.execute("SELECT user_id FROM counters").fetchall()
    conn.close()
    await store.close()
    assert rows == [("flo",)]


@pytest.mark.anyio
async def test_sqlite_other_process_hears_the_erase_without_the_id(tmp_path: Path) -> None:
    writer, reader = SQLiteStore(tmp_path / "u.db"), SQLiteStore(tmp_path / "u.db")
    await writer.open()
    await reader.open()
    got: list[Invalidation] = []
    reader.add_listener(got.append)
    await writer.users.erase_user("gus")
    reader.poll()
    await writer.close()
    await reader.close()
    assert got == [Invalidation("all")]


# --------------------------------------------------------------------------- on disk

SECRET_SEGMENT = "vip-f00dcafe-segment"
SECRET_USER = "erasure-target-7f3a9c"


def disk_bytes(data_dir: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in data_dir.glob("uiserver.db*")}


def test_sqlite_erase_leaves_nothing_on_disk(tmp_path: Path) -> None:
    """The user id and a distinctive value they had are in none of the database files after
    the erase: not in `changes`, not in freed pages, not in `-wal`."""
    user = bearer(SECRET_USER)
    designer = bearer("ann", "designer")
    with TestClient(make_app(tmp_path)) as client:
        put = client.put(
            "/v1/me/settings",
            headers=user,
            json={
                "elderly_mode": "on",
                "font_scale": 1.4,
                "high_contrast": True,
                "reduce_motion": False,
                "screen_reader": False,
                "handedness": "left",
                "personalization": 1.0,
                "age_band": "60_plus",
            },
        )
        assert put.status_code == 200, put.text
        events = [{"page": "home", "component": "coupons", "kind": "click"}] * 12
        assert (
            client.post("/v1/me/events", headers=user, json={"events": events}).status_code == 202
        )
        assert (
            client.put(
                "/v1/admin/segments",
                headers=designer,
                json=[{"user": SECRET_USER, "segments": [SECRET_SEGMENT]}],
            ).status_code
            == 200
        )
        for width in range(360, 370):
            assert client.get(f"/v1/layouts/home?width={width}", headers=user).status_code == 200
        before = b"".join(disk_bytes(tmp_path).values())
        assert SECRET_USER.encode() in before and SECRET_SEGMENT.encode() in before

        assert client.delete("/v1/me", headers=user).json() == {"erased": True}
        # Other users keep writing: nothing of the erased user comes back.
        assert (
            client.put(
                "/v1/me/settings",
                headers=bearer("someone-else"),
                json={
                    "elderly_mode": "off",
                    "font_scale": 1.0,
                    "high_contrast": False,
                    "reduce_motion": False,
                    "screen_reader": False,
                    "handedness": "unknown",
                    "personalization": 1.0,
                    "age_band": "unknown",
                },
            ).status_code
            == 200
        )
        files = disk_bytes(tmp_path)
        assert {"uiserver.db", "uiserver.db-wal", "uiserver.db-shm"} <= set(files)
        for name, data in files.items():
            assert SECRET_USER.encode() not in data, f"user id in {name}"
            assert SECRET_SEGMENT.encode() not in data, f"segment in {name}"
        service = client.app.service  # type: ignore[attr-defined]
        store = service.store
        assert isinstance(store, SQLiteStore)
        assert store.db.connection().execute("PRAGMA secure_delete").fetchone() == (1,)


@pytest.mark.anyio
async def test_erase_then_background_writes_in_flight_store_nothing(tmp_path: Path) -> None:
    """In one process: last-order writes scheduled by launches before the erase run after it."""
    store = SQLiteStore(tmp_path / "u.db")
    await store.open()
    await fill(store, "hal")
    profile = await store.users.get_profile("hal")
    pending = [
        asyncio.ensure_future(store.users.set_last_order("hal", f"p{i}", ["x"], profile.epoch))
        for i in range(5)
    ]
    await store.users.erase_user("hal")
    results = await asyncio.gather(*pending, return_exceptions=True)
    await store.close()
    assert all(isinstance(r, ErasedMeanwhile) for r in results)


@pytest.mark.anyio
@pytest.mark.redis
async def test_redis_aof_keeps_the_user_until_bgrewriteaof(
    redis_factory: Callable[..., RedisServer],
) -> None:
    """What docs/DEPLOY.md tells operators: the erased user is still in the AOF after the
    erase, and in no persistence file after BGREWRITEAOF."""
    server = redis_factory(persistent=True)
    store = RedisStore(server.url)
    await store.open()
    try:
        await fill(store, SECRET_USER)
        await store.users.put_segments([(SECRET_USER, [SECRET_SEGMENT])])
        await store.users.erase_user(SECRET_USER)
        never_seen = await store.users.export_user("never-seen")
        assert await store.users.export_user(SECRET_USER) == msgspec.structs.replace(
            never_seen, user_id=SECRET_USER
        )

        def persisted() -> bytes:
            return b"".join(
                p.read_bytes()
                for p in server.directory.rglob("*")
                if p.is_file() and p.name != "redis.log"
            )

        assert SECRET_USER.encode() in persisted()  # the AOF logged the writes and the DEL
        with redis.Redis.from_url(server.url) as client:
            client.bgrewriteaof()
            for _ in range(200):
                info = client.info("persistence")
                if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
                    break
                await asyncio.sleep(0.05)
        for _ in range(100):  # the old files go once the rewrite is installed
            if SECRET_USER.encode() not in persisted():
                break
            await asyncio.sleep(0.05)
        data = persisted()
        assert SECRET_USER.encode() not in data and SECRET_SEGMENT.encode() not in data
    finally:
        await store.close()
