"""One suite, both backends: every test runs on SQLite and on a real Redis."""

from __future__ import annotations

import asyncio
import signal
import socket
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
import redis
import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import RedisError

from tests.helpers.stores import NOW, StoreFactory
from uiserver.engine.activity import NEVER_SEEN, day_of
from uiserver.engine.served_inputs import changes_served
from uiserver.policy import load_policy
from uiserver.schema import Event, Profile, Settings
from uiserver.store.base import Invalidation, ServedCheck, Store, StoreUnavailable
from uiserver.store.factory import open_store
from uiserver.store.redis.store import RedisStore
from uiserver.store.sqlite.store import SQLiteStore

pytestmark = pytest.mark.anyio


def events(component: str, kind: str, count: int, ts: float | None = None) -> list[Event]:
    return [Event(page="home", component=component, kind=kind, ts=ts)] * count  # type: ignore[arg-type]


async def wait_for(
    store: Store, got: list[Invalidation], wanted: Invalidation, within: float = 1.0
) -> bool:
    """Poll (SQLite) or just wait (Redis pub/sub) until `wanted` reaches a listener."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        store.poll()
        if wanted in got:
            return True
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.01)


async def leftovers(store: Store, user_id: str) -> list[str]:
    """Raw rows or keys that still mention `user_id` (the change log included)."""
    if isinstance(store, SQLiteStore):
        return sqlite_leftovers(store.path, user_id)
    assert isinstance(store, RedisStore)
    with redis.Redis.from_url(store.url) as client:
        return [key.decode() for key in client.scan_iter(match=f"*{user_id}*")]


def sqlite_leftovers(path: Path, user_id: str) -> list[str]:
    found = []
    with sqlite3.connect(path) as conn:
        tables = [
            name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        for table in tables:
            for row in conn.execute(f"SELECT * FROM {table}"):
                text = " ".join(str(cell) for cell in row)
                if user_id in text:
                    found.append(f"{table}: {row}")
    conn.close()
    return found


# ---------------------------------------------------------------------------------- users


async def test_new_user_gets_defaults(store: Store) -> None:
    assert await store.users.get_settings("new") == Settings()
    # never stored: empty activity counters (a first launch: `new_user`)
    assert await store.users.get_profile("new") == Profile(user_id="new", activity=NEVER_SEEN)
    export = await store.users.export_user("new")
    assert export.settings is None
    assert export.affinities == {} and export.segments == [] and export.evidence == 0


async def test_settings_round_trip_exactly(store: Store) -> None:
    settings = Settings(
        elderly_mode="on",
        font_scale=1.37,
        high_contrast=True,
        reduce_motion=True,
        screen_reader=True,
        handedness="left",
        personalization=0.33,
        age_band="60_plus",
    )
    await store.users.put_settings("u1", settings)
    got = await store.users.get_settings("u1")
    assert got == settings
    assert msgspec.json.encode(got) == msgspec.json.encode(settings)
    assert (await store.users.get_profile("u1")).settings == settings

    await store.users.put_settings("u1", Settings(font_scale=2.0))
    assert await store.users.get_settings("u1") == Settings(font_scale=2.0)


async def test_events_fold_into_affinities(store: Store) -> None:
    batch = events("coupons", "click", 3) + events("banner", "view", 20)
    batch += events("orders", "convert", 1)
    assert await store.users.record_events("u1", batch, NOW) == len(batch)

    profile = await store.users.get_profile("u1")
    assert profile.evidence == 4  # clicks and conversions only
    scores = profile.affinities
    assert scores["orders"] > scores["coupons"] > scores["banner"] >= 0
    assert scores["coupons"] / 3 > 2 * scores["banner"]  # one click outweighs 20 views

    # A week later the old scores have decayed and a new click counts in full.
    assert (
        await store.users.record_events("u1", events("banner", "click", 1), NOW + 7 * 86_400) == 1
    )
    later = await store.users.get_profile("u1")
    assert later.evidence == pytest.approx(4 * 0.5**0.5 + 1)  # the old four weigh 2**-0.5 each
    assert later.affinities["coupons"] < scores["coupons"]
    assert later.affinities["banner"] > 1.0


async def test_personalization_off_stores_nothing(store: Store) -> None:
    await store.users.put_settings("off", Settings(personalization=0.0))
    got: list[Invalidation] = []
    store.add_listener(got.append)
    assert await store.users.record_events("off", events("coupons", "click", 5), NOW) == 0
    profile = await store.users.get_profile("off")
    assert profile.affinities == {} and profile.evidence == 0
    export = await store.users.export_user("off")
    assert export.affinities == {} and export.last_event is None
    assert got == []


async def test_segments_bulk_put_and_replace(store: Store) -> None:
    got: list[Invalidation] = []
    store.add_listener(got.append)
    bulk = [(f"user-{i}", ["rfm_high", f"cohort_{i % 7}"]) for i in range(3_000)]
    assert await store.users.put_segments(bulk) == 3_000
    assert got == [Invalidation("all")]  # one message, not 3,000
    assert (await store.users.get_profile("user-10")).segments == {"rfm_high", "cohort_3"}
    assert (await store.users.get_profile("user-2999")).segments == {"rfm_high", "cohort_3"}

    got.clear()
    assert await store.users.put_segments([("user-10", ["churn_risk"]), ("user-11", [])]) == 2
    assert got == [Invalidation("user", "user-10"), Invalidation("user", "user-11")]
    assert (await store.users.get_profile("user-10")).segments == {"churn_risk"}
    assert (await store.users.get_profile("user-11")).segments == frozenset()
    assert (await store.users.get_profile("user-12")).segments == {"rfm_high", "cohort_5"}


async def test_remembered_orders_share_their_component_ids(store: Store) -> None:
    """Two users' cached profiles hold one string object per component id, not one each
    (`store._common.decode_order` interns them): the profile cache's memory per user."""
    order = ["search-" + "box", "coupons", "grid-" + "main"]  # made at runtime, not interned
    for user in ("u1", "u2"):
        await store.users.set_last_order(user, "home", list(order))
    one = (await store.users.get_profile("u1")).last_order["home"]
    two = (await store.users.get_profile("u2")).last_order["home"]
    assert one == two == order
    assert all(a is b for a, b in zip(one, two, strict=True))


async def test_export_contains_everything(store: Store) -> None:
    settings = Settings(handedness="left", font_scale=1.5)
    await store.users.put_settings("u1", settings)
    await store.users.record_events("u1", events("coupons", "click", 2, ts=NOW - 60), NOW)
    await store.users.put_segments([("u1", ["churn_risk", "rfm_high"])])
    await store.users.set_last_order("u1", "home", ["search", "coupons", "grid"])

    export = await store.users.export_user("u1")
    msgspec.json.encode(export)  # JSON-able as it is
    assert export.user_id == "u1"
    assert export.settings == settings
    assert set(export.affinities) == {"coupons"}
    assert export.evidence == pytest.approx(2, abs=1e-3)  # two clicks a minute old
    assert export.segments == ["churn_risk", "rfm_high"]
    assert export.last_order == {"home": ["search", "coupons", "grid"]}
    assert export.last_event == NOW - 60
    assert export.affinities_updated == NOW
    assert export.created is not None and export.updated is not None


async def test_empty_batches_write_and_invalidate_nothing(store: Store) -> None:
    """An events post whose events were all filtered out, an import naming nobody: nothing
    stored, no invalidation sent (no cached layout dropped for nothing)."""
    await store.users.put_settings("u1", Settings(font_scale=1.2))
    before = await store.users.export_user("u1")
    sent = dict(store.invalidation_counts)
    assert await store.users.record_events("u1", [], NOW) == 0
    assert await store.users.put_segments([]) == 0
    assert dict(store.invalidation_counts) == sent
    assert await store.users.export_user("u1") == before


async def test_erase_leaves_nothing(store: Store) -> None:
    user = "erase-me-7f3a"
    fresh = await store.users.export_user(user)
    await store.users.put_settings(user, Settings(elderly_mode="on"))
    await store.users.record_events(user, events("coupons", "convert", 3), NOW)
    await store.users.put_segments([(user, ["churn_risk"])])
    await store.users.set_last_order(user, "home", ["a", "b"])
    await store.templates.publish("home", "v1", b'{"page": "home"}', "designer", "first", NOW)

    got: list[Invalidation] = []
    store.add_listener(got.append)
    await store.users.erase_user(user)
    assert got == [Invalidation("user", user)]
    assert await store.users.export_user(user) == fresh
    erased = await store.users.get_profile(user)
    assert erased == Profile(user_id=user, epoch=erased.epoch, activity=NEVER_SEEN)
    assert erased.epoch == await store.users.erasure_epoch(user) == 1
    assert await leftovers(store, user) == []
    assert (await store.templates.live_template("home")) is not None  # not about the user: kept


async def test_users_never_touch_each_other(store: Store) -> None:
    await store.users.put_settings("b", Settings(handedness="right"))
    await store.users.record_events("b", events("grid", "click", 2), NOW)
    await store.users.put_segments([("b", ["rfm_low"])])
    await store.users.set_last_order("b", "home", ["x"])
    before = await store.users.export_user("b")

    await store.users.put_settings("a", Settings(handedness="left", personalization=0.0))
    await store.users.record_events("a", events("grid", "click", 9), NOW)
    await store.users.put_segments([("a", ["rfm_high"])])
    await store.users.set_last_order("a", "home", ["y"])
    await store.users.erase_user("a")
    await store.users.erase_user("b-")  # a prefix of b's id
    assert await store.users.export_user("b") == before


async def test_set_last_order_round_trips_without_invalidation(store: Store) -> None:
    got: list[Invalidation] = []
    store.add_listener(got.append)
    await store.users.set_last_order("u1", "home", ["a", "b"])
    await store.users.set_last_order("u1", "cart", ["c"])
    await store.users.set_last_order("u1", "home", ["b", "a"])
    assert (await store.users.get_profile("u1")).last_order == {"home": ["b", "a"], "cart": ["c"]}
    assert got == []


# ---------------------------------------------------------------------------------- templates


async def test_templates_publish_history_rollback(store: Store) -> None:
    assert (
        await store.templates.live() == {} and await store.templates.live_template("home") is None
    )
    assert (
        await store.templates.history("home") == []
        and await store.templates.get_version("home", "v1") is None
    )

    v1 = (await store.templates.publish("home", "v1", b'{"v": 1}', "ann", "first", NOW)).head
    assert (v1.seq, v1.version, v1.document, v1.author, v1.message) == (
        1,
        "v1",
        b'{"v": 1}',
        "ann",
        "first",
    )
    again = await store.templates.publish("home", "v1", b'{"v": 1}', "bob", "again", NOW + 1)
    assert again.head == v1

    v2 = (await store.templates.publish("home", "v2", b'{"v": 2}', "bob", "second", NOW + 2)).head
    await store.templates.publish("cart", "c1", b'{"c": 1}', "ann", "cart", NOW + 3)
    assert v2.seq == 2 and await store.templates.live_template("home") == v2
    assert await store.templates.get_version("home", "v1") == v1

    rollback = (
        await store.templates.publish("home", "v1", b'{"v": 1}', "cy", "rollback", NOW + 4)
    ).head
    assert (rollback.seq, rollback.version, rollback.message) == (3, "v1", "rollback")
    assert await store.templates.live_template("home") == rollback
    assert [r.seq for r in await store.templates.history("home")] == [3, 2, 1]
    assert [r.version for r in await store.templates.history("home")] == ["v1", "v2", "v1"]
    assert await store.templates.get_version("home", "v2") == v2
    assert (await store.templates.get_version("home", "v1")) == rollback
    live = await store.templates.live()
    assert sorted(live) == ["cart", "home"] and live["home"] == rollback


async def test_versions_are_immutable(store: Store) -> None:
    v1 = (await store.templates.publish("home", "v1", b'{"v": 1}', "ann", "first", NOW)).head
    await store.templates.publish("home", "v2", b'{"v": 2}', "ann", "second", NOW + 1)
    got: list[Invalidation] = []
    store.add_listener(got.append)
    with pytest.raises(ValueError, match="immutable"):
        await store.templates.publish("home", "v1", b'{"v": "other"}', "eve", "bad", NOW + 2)
    with pytest.raises(ValueError, match="immutable"):
        await store.templates.publish("home", "v2", b'{"v": "other"}', "eve", "bad", NOW + 2)
    assert [r.version for r in await store.templates.history("home")] == ["v2", "v1"]
    assert await store.templates.get_version("home", "v1") == v1
    assert got == []


# ---------------------------------------------------------------------------------- invalidation


async def test_local_listeners_hear_every_layout_input(store: Store) -> None:
    got: list[Invalidation] = []
    store.add_listener(got.append)
    await store.users.put_settings("u1", Settings())
    await store.users.record_events("u1", events("a", "click", 1), NOW)
    await store.users.put_segments([("u2", ["x"])])
    await store.templates.publish("home", "v1", b"{}", "ann", "m", NOW)
    await store.templates.publish("home", "v1", b"{}", "ann", "m", NOW)  # already live: no change
    await store.users.erase_user("u3")
    assert got == [
        Invalidation("user", "u1"),
        Invalidation("user", "u1"),
        Invalidation("user", "u2"),
        Invalidation("template", "home"),
        Invalidation("user", "u3"),
    ]


async def test_a_failing_listener_does_not_break_the_write(store: Store) -> None:
    def broken(_: Invalidation) -> None:
        raise RuntimeError("listener bug")

    got: list[Invalidation] = []
    store.add_listener(broken)
    store.add_listener(got.append)
    await store.users.put_settings("u1", Settings(font_scale=1.2))
    assert got == [Invalidation("user", "u1")]
    assert (await store.users.get_settings("u1")).font_scale == 1.2


async def test_invalidations_reach_other_instances(make_store: StoreFactory) -> None:
    writer, reader = await make_store(), await make_store()
    mine: list[Invalidation] = []
    theirs: list[Invalidation] = []
    writer.add_listener(mine.append)
    reader.add_listener(theirs.append)

    await writer.users.put_settings("u1", Settings(font_scale=1.5))
    assert await wait_for(reader, theirs, Invalidation("user", "u1"))
    assert (await reader.users.get_settings("u1")).font_scale == 1.5

    await writer.templates.publish("home", "v9", b"{}", "ann", "m", NOW)
    assert await wait_for(reader, theirs, Invalidation("template", "home"))
    assert (await reader.templates.live_template("home")) is not None

    await writer.users.erase_user("u1")
    assert await wait_for(reader, theirs, Invalidation("user", "u1"))

    # The writer heard each of its own writes once, not again through the shared channel.
    await reader.users.put_settings("u2", Settings())
    assert await wait_for(writer, mine, Invalidation("user", "u2"))
    assert mine.count(Invalidation("user", "u1")) == 2
    assert mine.count(Invalidation("template", "home")) == 1


async def test_failed_writes_change_nothing(store: Store) -> None:
    await store.users.put_segments([("a", ["old"]), ("c", ["kept"])])
    got: list[Invalidation] = []
    store.add_listener(got.append)
    bad: list[tuple[str, list[Any]]] = [("a", ["new"]), ("b", [object()]), ("c", ["new"])]
    with pytest.raises((TypeError, ValueError, sqlite3.Error, RedisError)):
        await store.users.put_segments(bad)
    assert (await store.users.get_profile("a")).segments == {"old"}
    assert (await store.users.get_profile("b")).segments == frozenset()
    assert (await store.users.get_profile("c")).segments == {"kept"}
    assert got == []


# ---------------------------------------------------------------------------------- SQLite only


async def test_sqlite_rolls_back_a_transaction_that_fails_late(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SQLiteStore(tmp_path / "u.db")
    await store.open()
    await store.users.record_events("u1", events("a", "click", 1), NOW)
    before = await store.users.export_user("u1")

    def fail(*_: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store.db.changes, "append", fail)  # runs after the rows were written
    monkeypatch.setattr(store.db.changes, "append_erased", fail)
    with pytest.raises(RuntimeError):
        await store.users.record_events("u1", events("b", "convert", 5), NOW + 10)
    with pytest.raises(RuntimeError):
        await store.users.erase_user("u1")
    assert await store.users.export_user("u1") == before
    await store.close()


async def test_sqlite_reader_that_fell_behind_the_log_drops_everything(tmp_path: Path) -> None:
    writer = SQLiteStore(tmp_path / "u.db", changes_keep=5)
    reader = SQLiteStore(tmp_path / "u.db")
    await writer.open()
    await reader.open()
    got: list[Invalidation] = []
    reader.add_listener(got.append)
    await writer.users.put_segments([(f"u{i}", ["s"]) for i in range(300)])  # prunes the log
    reader.poll()
    assert got == [Invalidation("all")]
    got.clear()
    await writer.users.put_settings("late", Settings())
    reader.poll()
    assert got == [Invalidation("user", "late")]
    reader.poll()
    assert got == [Invalidation("user", "late")]  # nothing twice
    await writer.close()
    await reader.close()


async def test_sqlite_poll_interval_limits_checks(tmp_path: Path) -> None:
    writer = SQLiteStore(tmp_path / "u.db")
    reader = SQLiteStore(tmp_path / "u.db", poll_interval=3600)
    await writer.open()
    await reader.open()
    got: list[Invalidation] = []
    reader.add_listener(got.append)
    reader.poll()  # the first call checks and starts the interval
    await writer.users.put_settings("u1", Settings())
    reader.poll()
    assert got == []
    await writer.close()
    await reader.close()


def test_open_store_picks_the_backend(tmp_path: Path) -> None:
    sqlite_store = open_store("", tmp_path)
    assert isinstance(sqlite_store, SQLiteStore)
    assert sqlite_store.path == tmp_path / "uiserver.db"
    assert isinstance(open_store("redis://127.0.0.1:1/0", tmp_path), RedisStore)
    with pytest.raises(ValueError, match="unknown store"):
        open_store("postgres://x", tmp_path)


# ---------------------------------------------------------------------------------- Redis only


@pytest.mark.redis
async def test_redis_outage_raises_then_recovers(
    redis_factory: Callable[..., Any],
) -> None:
    server = redis_factory(persistent=True)
    store = RedisStore(server.url)
    await store.open()
    got: list[Invalidation] = []
    store.add_listener(got.append)
    await store.users.put_settings("u1", Settings(font_scale=1.8))
    await store.templates.publish("home", "v1", b"{}", "ann", "m", NOW)

    server.stop()
    assert await store.ping() is False
    with pytest.raises(StoreUnavailable):
        await store.users.get_profile("u1")
    with pytest.raises(StoreUnavailable):
        await store.users.put_settings("u1", Settings())
    with pytest.raises(StoreUnavailable):
        await store.templates.publish("home", "v2", b"{}", "ann", "m", NOW)

    got.clear()
    server.start()
    assert await store.ping() is True
    assert (await store.users.get_settings("u1")).font_scale == 1.8  # written before the outage
    assert (await store.templates.live_template("home")) is not None
    await store.users.put_settings("u1", Settings(font_scale=1.1))
    assert (await store.users.get_settings("u1")).font_scale == 1.1
    # The subscriber reconnects on its own and assumes it missed messages.
    assert await wait_for(store, got, Invalidation("all"), within=10.0)
    await store.close()


@pytest.mark.redis
async def test_redis_open_does_not_fail_while_redis_is_down() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = RedisStore(f"redis://127.0.0.1:{port}/0")
    await store.open(wait=0.2)
    assert await store.ping() is False
    with pytest.raises(StoreUnavailable):
        await store.users.get_settings("u1")
    await store.close()


async def subscriber_link(probe: aioredis.Redis) -> str | None:
    """The id of the one pub/sub connection Redis has (the store's subscriber), if any."""
    links = [c["id"] for c in await probe.client_list() if "P" in c["flags"]]
    assert len(links) <= 1, links
    return links[0] if links else None


async def pings_served(probe: aioredis.Redis) -> int:
    stats = await probe.info("commandstats")
    return int(stats.get("cmdstat_ping", {}).get("calls", 0))


async def eventually(probe: Callable[[], Awaitable[bool]], within: float = 10.0) -> bool:
    """Poll `probe` until it holds or `within` seconds have passed."""
    deadline = asyncio.get_running_loop().time() + within
    while not await probe():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


@pytest.mark.redis
async def test_redis_subscriber_gives_up_on_a_silent_link(
    redis_factory: Callable[..., Any],
) -> None:
    server = redis_factory()
    silence = 0.4
    store = RedisStore(server.url, silence=silence)
    await store.open()
    got: list[Invalidation] = []
    store.add_listener(got.append)
    async with aioredis.Redis.from_url(server.url) as probe:
        link = await subscriber_link(probe)
        assert link is not None and store.subscribed

        # A healthy, idle link is not mistaken for a dead one. The subscriber pings four times
        # per `silence` (pubsub.py) and nobody else pings this server: once Redis has served
        # 2 * 4 + 1 pings, the link has been idle for over two `silence` periods with the
        # subscriber still pinging it. Had it given up, its connection would be gone.
        async def two_silences_pinged() -> bool:
            return await pings_served(probe) >= 2 * 4 + 1

        assert await eventually(two_silences_pinged)
        assert await subscriber_link(probe) == link  # the same connection: never given up
        assert got == [] and store.subscribed

    server.process.send_signal(signal.SIGSTOP)  # no reset, no replies: a silent link
    try:
        # Nothing comes back, not even a pong: after `silence` the subscriber gives up the link
        # (and keeps failing to resubscribe while Redis stays stopped).
        async def unsubscribed() -> bool:
            return not store.subscribed

        assert await eventually(unsubscribed)
    finally:
        server.process.send_signal(signal.SIGCONT)
    assert await wait_for(store, got, Invalidation("all"), within=10.0)
    await store.close()


@pytest.mark.redis
async def test_redis_out_of_memory_is_unavailable_not_a_bug(
    redis_factory: Callable[..., Any],
) -> None:
    server = redis_factory()
    store = RedisStore(server.url)
    await store.open()
    await store.users.put_settings("u1", Settings(font_scale=1.4))
    with redis.Redis.from_url(server.url) as client:
        client.config_set("maxmemory", 1)
    with pytest.raises(StoreUnavailable, match="memory"):
        await store.users.put_settings("u1", Settings())
    assert (await store.users.get_settings("u1")).font_scale == 1.4  # reads still answer
    await store.close()


async def test_invalidations_are_counted_sent_and_received(make_store: StoreFactory) -> None:
    """`uiserver_invalidations_total{direction, kind}`: the writer counts what it sent, each
    other replica what it received (SQLite by polling the change log, Redis by pub/sub)."""
    writer, reader = await make_store(), await make_store()
    got: list[Invalidation] = []
    reader.add_listener(got.append)
    before = dict(reader.invalidation_counts)
    await writer.users.put_settings("u1", Settings(font_scale=1.5))
    assert await wait_for(reader, got, Invalidation("user", "u1"))
    assert writer.invalidation_counts.get(("sent", "user"), 0) >= 1
    assert ("received", "user") not in writer.invalidation_counts  # its own, not received
    received = reader.invalidation_counts.get(("received", "user"), 0)
    assert received == before.get(("received", "user"), 0) + 1


async def test_a_batch_that_moves_no_plan_input_invalidates_nobody(
    make_store: StoreFactory,
) -> None:
    """`record_batch(served=...)`: views that move no ranking send no invalidation, here or to
    another replica; a batch that reorders the user's affinities does (`engine.served_inputs`)."""
    writer, reader = await make_store(), await make_store()
    await writer.users.record_events("u1", events("coupons", "click", 9), NOW - 60)
    await writer.users.record_events("u1", events("fruit", "click", 2), NOW - 60)
    await asyncio.sleep(0.1)
    reader.poll()  # the earlier batches' invalidations (SQLite: read from the change log)
    heard: list[Invalidation] = []
    local: list[Invalidation] = []
    reader.add_listener(heard.append)
    writer.add_listener(local.append)
    check = served_check(NOW)
    views = await writer.users.record_batch("u1", events("fruit", "view", 6), NOW, served=check)
    assert views.stored == 6
    await asyncio.sleep(0.1)  # what pub/sub would have delivered by now
    reader.poll()
    assert local == [] and heard == []
    overtakes = await writer.users.record_batch(
        "u1", events("fruit", "click", 12), NOW, served=check
    )
    assert overtakes.stored == 12
    assert local == [Invalidation("user", "u1")]
    assert await wait_for(reader, heard, Invalidation("user", "u1"))
    profile = await reader.users.get_profile("u1")
    assert profile.affinities["fruit"] > profile.affinities["coupons"]  # both batches stored


async def test_a_second_launch_on_a_counted_day_invalidates_nobody(
    make_store: StoreFactory,
) -> None:
    """Launch counters: every launch is written, but only one that moves the computed
    segments (a first launch, a new launch day) invalidates the user here and on another
    replica; a second launch the same day moves nothing a plan reads
    (`engine.served_inputs.counters_change_served`). Before, every flush of launch counters
    dropped every launching user's cached profile on every replica."""
    writer, reader = await make_store(), await make_store()
    heard: list[Invalidation] = []
    local: list[Invalidation] = []
    reader.add_listener(heard.append)
    writer.add_listener(local.append)
    epoch = await writer.users.erasure_epoch("u1")
    today = day_of(NOW)
    await writer.activity.record_activity({"u1": (today, 1, epoch)}, [])  # first launch
    assert local == [Invalidation("user", "u1")]
    assert await wait_for(reader, heard, Invalidation("user", "u1"))
    local.clear()
    heard.clear()
    await writer.activity.record_activity({"u1": (today, 2, epoch)}, [])  # the same day again
    await asyncio.sleep(0.1)  # what pub/sub would have delivered by now
    reader.poll()
    assert local == [] and heard == []
    stored = (await reader.users.get_profile("u1")).activity
    assert stored is not None and stored.days[today] == 3  # written all the same
    await writer.activity.record_activity({"u1": (today + 1, 1, epoch)}, [])  # a new day
    assert local == [Invalidation("user", "u1")]
    assert await wait_for(reader, heard, Invalidation("user", "u1"))


def served_check(now: float) -> ServedCheck:
    policy = load_policy()
    return lambda before, after: changes_served(before, after, now, policy)


@pytest.mark.redis
async def test_an_events_batch_is_two_redis_commands(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch without conversions: the client sends SNAPSHOT and APPLY (2 commands, 2 round
    trips; the WATCH/MULTI/EXEC version sent 10-13 in 6 round trips), and a PUBLISH only when
    the batch changes what the user may be served. Counted as the client packs them (INFO
    commandstats also counts the commands a script runs inside Redis)."""
    store = open_store(redis_url, tmp_path)
    await store.open()
    sent: list[bytes] = []
    pack = AbstractConnection.pack_command

    def counting(self: AbstractConnection, *args: Any) -> list[bytes]:
        sent.append(args[0] if isinstance(args[0], bytes) else str(args[0]).encode())
        return pack(self, *args)

    try:
        await store.users.record_events("u2", events("coupons", "click", 9), NOW - 60)
        await store.users.record_events("u2", events("fruit", "click", 2), NOW - 60)
        monkeypatch.setattr(AbstractConnection, "pack_command", counting)
        await store.users.record_batch(
            "u2", events("fruit", "view", 6), NOW, served=served_check(NOW)
        )
        assert sent == [b"EVALSHA", b"EVALSHA"]
        sent.clear()
        await store.users.record_batch(
            "u2", events("fruit", "click", 30), NOW, served=served_check(NOW)
        )
        assert sent == [b"EVALSHA", b"EVALSHA", b"PUBLISH"]  # fruit overtakes coupons
    finally:
        monkeypatch.undo()
        await store.close()
