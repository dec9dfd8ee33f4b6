"""Seen event ids (`store.event_ids`), on both stores: a resent batch counts once in the
affinities, the RFM/activity counters and the experiment counts; the window is bounded in time
and size; erasure removes it; a Redis transaction whose reply was lost is not applied twice."""

from __future__ import annotations

import asyncio
import hashlib
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest
import redis

from tests.helpers.redis import LostReplyProxy
from tests.helpers.stores import NOW, StoreFactory
from uiserver.engine.activity import day_of
from uiserver.engine.hashing import event_digest
from uiserver.schema import Event, Settings
from uiserver.store.base import Conversion, Exposure, Store
from uiserver.store.event_ids import MAX_IDS, WINDOW_S, SeenIds
from uiserver.store.redis.batch import APPLY
from uiserver.store.redis.store import RedisStore
from uiserver.store.sqlite.store import SQLiteStore

pytestmark = pytest.mark.anyio

EXPERIMENT, VARIANT = "home_test", "deals_first"


def convert(event_id: str | None, value: float = 99.0, ts: float = NOW - 60) -> Event:
    return Event(page="home", component="coupons", kind="convert", ts=ts, value=value, id=event_id)


def click(event_id: str | None, component: str = "grid", ts: float = NOW - 60) -> Event:
    return Event(page="home", component=component, kind="click", ts=ts, id=event_id)


def attribute(events: Sequence[Event]) -> list[Conversion]:
    """Every convert counts for the experiment (what `users.events` gives a served user)."""
    return [
        Conversion(EXPERIMENT, e.ts or NOW, e.value or 0.0) for e in events if e.kind == "convert"
    ]


async def exposed(store: Store, user: str) -> None:
    """The user was served the variant (their counters carry the marker)."""
    epoch = await store.users.erasure_epoch(user)
    exposure = Exposure(EXPERIMENT, VARIANT, day_of(NOW), user, mark=True, epoch=epoch)
    await store.activity.record_activity({user: (day_of(NOW), 1, epoch)}, [exposure])


async def readout(store: Store) -> tuple[int, int, float]:
    (counts,) = await store.activity.experiment_counts(EXPERIMENT, [VARIANT])
    return counts.converters, counts.converts, counts.value


async def snapshot(store: Store, user: str) -> tuple[object, ...]:
    data = await store.users.export_user(user)
    assert data.activity is not None
    return (
        data.affinities,
        data.evidence,
        data.activity.converts,
        data.activity.value,
        data.activity.last_convert,
        await readout(store),
    )


async def raw_ids(store: Store, user: str) -> bytes | None:
    """The user's packed set as stored (SQLite `users.event_ids`, Redis `evid:{user}`)."""
    if isinstance(store, SQLiteStore):
        with sqlite3.connect(store.path) as conn:
            query = "SELECT event_ids FROM users WHERE user_id = ?"
            row = conn.execute(query, (user,)).fetchone()
        conn.close()
        return None if row is None else row[0]
    assert isinstance(store, RedisStore)
    with redis.Redis.from_url(store.url) as client:
        raw = client.get(f"uiserver:evid:{user}")
    assert raw is None or isinstance(raw, bytes)
    return raw


async def stored_ids(store: Store, user: str, now: float = NOW) -> int:
    """How many seen ids the store holds for the user within the window, read raw."""
    return len(SeenIds(await raw_ids(store, user), now))


# ------------------------------------------------------------------------- the input


async def test_a_resent_batch_counts_once(store: Store) -> None:
    """The first POST landed, its answer was lost, the client sent it again: converts 1 and
    value 99, not 2 and 198, in the readout and the RFM counters; affinities not doubled."""
    await exposed(store, "ann")
    batch = [convert("evt-0001-aaaa")]
    first = await store.users.record_batch("ann", batch, NOW, conversions=attribute)
    assert (first.stored, first.duplicates, first.conversions) == (1, 0, 1)
    once = await snapshot(store, "ann")
    again = await store.users.record_batch("ann", batch, NOW + 5, conversions=attribute)
    assert (again.stored, again.duplicates, again.conversions) == (0, 1, 0)
    assert await snapshot(store, "ann") == once
    assert once[2:4] == (1, 99.0) and once[5] == (1, 1, 99.0)


async def test_record_events_twice_folds_once(store: Store) -> None:
    """The same through `record_events` (the API before `record_batch`): clicks and a convert,
    resent, fold once into affinities, evidence and the RFM counters."""
    batch = [click("c-1-xxxxxx"), click("c-2-xxxxxx", "coupons"), convert("c-3-xxxxxx", 40.0)]
    assert await store.users.record_events("bo", batch, NOW) == 3
    once = await snapshot(store, "bo")
    assert await store.users.record_events("bo", batch, NOW + 1) == 0
    assert await store.users.record_events("bo", batch[1:], NOW + 2) == 0
    assert await snapshot(store, "bo") == once
    assert once[1] == pytest.approx(3, abs=1e-3) and once[2:4] == (1, 40.0)


async def test_a_resend_with_new_events_folds_only_the_new_ones(store: Store) -> None:
    await exposed(store, "cy")
    await store.users.record_batch("cy", [convert("evt-a-12345")], NOW, conversions=attribute)
    batch = [convert("evt-a-12345"), convert("evt-b-12345", 1.0), click("evt-c-12345")]
    got = await store.users.record_batch("cy", batch, NOW + 1, conversions=attribute)
    assert (got.stored, got.duplicates, got.conversions) == (2, 1, 1)
    data = await store.users.export_user("cy")
    assert data.activity is not None
    assert (data.activity.converts, data.activity.value) == (2, 100.0)
    assert await readout(store) == (1, 2, 100.0)  # one converter, two convert events


async def test_an_id_repeated_inside_a_batch_counts_once(store: Store) -> None:
    got = await store.users.record_batch("dee", [convert("same-id-123")] * 3, NOW)
    assert (got.stored, got.duplicates) == (1, 2)
    data = await store.users.export_user("dee")
    assert data.activity is not None and data.activity.converts == 1


async def test_events_without_an_id_are_always_folded(store: Store) -> None:
    """Old clients: accepted, and (as documented) they cannot be told from a resend."""
    for _ in range(2):
        assert await store.users.record_events("old", [convert(None)], NOW) == 1
    data = await store.users.export_user("old")
    assert data.activity is not None and data.activity.converts == 2
    assert await stored_ids(store, "old") == 0


async def test_ids_are_per_user(store: Store) -> None:
    assert await store.users.record_events("u1", [click("shared-id-1")], NOW) == 1
    assert await store.users.record_events("u2", [click("shared-id-1")], NOW) == 1


async def test_personalization_off_stores_no_ids(store: Store) -> None:
    await store.users.put_settings("off", Settings(personalization=0.0))
    got = await store.users.record_batch("off", [click("off-id-0001")], NOW)
    assert (got.stored, got.duplicates) == (0, 0)
    assert await stored_ids(store, "off") == 0
    await store.users.put_settings("off", Settings(personalization=1.0))
    assert await store.users.record_events("off", [click("off-id-0001")], NOW + 1) == 1


# ------------------------------------------------------------------------- the bounds


async def test_ids_are_remembered_for_the_window_and_not_after(store: Store) -> None:
    await store.users.record_events("win", [click("win-id-0001")], NOW)
    assert await store.users.record_events("win", [click("win-id-0001")], NOW + WINDOW_S - 1) == 0
    assert await store.users.record_events("win", [click("win-id-0001")], NOW + WINDOW_S + 1) == 1


async def test_the_oldest_ids_are_forgotten_past_the_bound(store: Store) -> None:
    ids = [f"bound-{i:06d}" for i in range(MAX_IDS + 250)]
    for n, start in enumerate(range(0, len(ids), 250)):
        chunk = [click(i) for i in ids[start : start + 250]]
        assert await store.users.record_events("many", chunk, NOW + n) == 250
    assert await stored_ids(store, "many") == MAX_IDS
    # the first 250 (the oldest) went; the next ones are still known
    assert await store.users.record_events("many", [click(ids[250])], NOW + 10) == 0
    assert await store.users.record_events("many", [click(ids[0])], NOW + 11) == 1
    assert await stored_ids(store, "many") == MAX_IDS


async def test_a_full_batch_past_the_bound_keeps_its_own_ids(store: Store) -> None:
    await store.users.record_events("full", [click(f"a-{i:08d}") for i in range(500)], NOW)
    await store.users.record_events("full", [click(f"b-{i:08d}") for i in range(500)], NOW + 1)
    batch = [click(f"c-{i:08d}") for i in range(500)]
    assert await store.users.record_events("full", batch, NOW + 2) == 500
    assert await store.users.record_events("full", batch, NOW + 3) == 0
    assert await store.users.record_events("full", [click("b-00000000")], NOW + 4) == 0
    assert await store.users.record_events("full", [click("a-00000000")], NOW + 5) == 1


async def test_expired_ids_are_dropped_when_the_set_is_next_written(store: Store) -> None:
    await store.users.record_events("idle", [click("idle-id-001")], NOW)
    later = NOW + WINDOW_S + 60
    await store.users.record_events("idle", [click("idle-id-002")], later)
    assert SeenIds(await raw_ids(store, "idle"), NOW).digests() == [event_digest("idle-id-002")]


@pytest.mark.redis
async def test_redis_seen_ids_expire_with_their_window(redis_url: str) -> None:
    store = RedisStore(redis_url)
    await store.open()
    await store.users.record_events("idle", [click("idle-id-001")], NOW)
    with redis.Redis.from_url(redis_url) as client:
        assert WINDOW_S - 5 <= client.ttl("uiserver:evid:idle") <= WINDOW_S
    await store.close()


# ------------------------------------------------------------------------- privacy


async def test_erasure_removes_the_seen_ids(store: Store) -> None:
    batch = [convert("erase-id-0001"), click("erase-id-0002")]
    await store.users.record_events("era", batch, NOW)
    assert await stored_ids(store, "era") == 2
    await store.users.erase_user("era")
    assert await stored_ids(store, "era") == 0
    # a new start: the same ids are new again
    assert await store.users.record_events("era", batch, NOW + 1) == 2


async def test_sqlite_erasure_leaves_no_digest_on_disk(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "u.db")
    await store.open()
    ids = [f"disk-id-{i:04d}" for i in range(50)]
    await store.users.record_events("disk", [click(i) for i in ids], NOW)
    await store.users.erase_user("disk")
    await store.close()
    files = [tmp_path / name for name in ("u.db", "u.db-wal", "u.db-shm")]
    raw = b"".join(f.read_bytes() for f in files if f.exists())
    assert raw and not [i for i in ids if event_digest(i) in raw]
    assert b"disk-id-" not in raw  # the ids themselves are never stored


@pytest.mark.redis
async def test_redis_stores_digests_and_erasure_deletes_them(redis_url: str) -> None:
    store = RedisStore(redis_url)
    await store.open()
    ids = [f"disk-id-{i:04d}" for i in range(50)]
    await store.users.record_events("disk", [click(i) for i in ids], NOW)
    with redis.Redis.from_url(redis_url) as client:
        raw = client.get("uiserver:evid:disk")
    assert isinstance(raw, bytes)
    assert SeenIds(raw, NOW).digests() == [event_digest(i) for i in ids]
    assert len(raw) == 12 * len(ids) and b"disk-id-" not in raw
    await store.users.erase_user("disk")
    with redis.Redis.from_url(redis_url) as client:
        assert not list(client.scan_iter(match="*disk*"))
    await store.close()


# ------------------------------------------------------------------------- Redis transactions


@pytest.mark.redis
async def test_redis_lost_exec_reply_is_not_applied_twice(redis_url: str) -> None:
    """EXEC ran on the server, its reply was lost on the way back: redis-py turns the lost
    connection into a WatchError and the store tries the transaction again; the retry reads the
    ids the first EXEC stored and adds nothing (counters, affinities, readout)."""
    proxy = LostReplyProxy(redis_url)
    store = RedisStore(await proxy.start())
    await store.open()
    try:
        await exposed(store, "lost")
        batch = [convert("lost-id-0001"), click("lost-id-0002", "coupons")]
        reference = RedisStore(redis_url, prefix="ref:")
        await reference.open()
        await exposed(reference, "lost")
        await reference.users.record_batch("lost", batch, NOW, conversions=attribute)
        expected = await snapshot(reference, "lost")
        await reference.close()

        proxy.arm()
        got = await store.users.record_batch("lost", batch, NOW, conversions=attribute)
        assert proxy.lost == 1
        assert got.stored + got.duplicates == 2
        assert await snapshot(store, "lost") == expected
        assert expected[2:4] == (1, 99.0) and expected[5] == (1, 1, 99.0)
    finally:
        await store.close()
        await proxy.close()


@pytest.mark.redis
async def test_redis_lost_exec_reply_through_record_events(redis_url: str) -> None:
    """The same through `record_events`, whose batch (no conversions) is written by the
    compare-and-set script `batch.APPLY`: its reply lost, the client's retry finds the digest
    changed, reads again and finds the ids stored. Evidence and RFM counters fold once."""
    apply_sha = hashlib.sha1(APPLY.encode()).hexdigest().encode()
    proxy = LostReplyProxy(redis_url, apply_sha, re.compile(rb":1\r\n"))
    store = RedisStore(await proxy.start())
    await store.open()
    try:
        batch = [click("rec-id-0001", "coupons"), convert("rec-id-0002", 25.0)]
        proxy.arm()
        await store.users.record_events("rec", batch, NOW)
        assert proxy.lost == 1
        data = await store.users.export_user("rec")
        assert data.evidence == pytest.approx(2, abs=1e-3)  # two events a minute old
        assert data.activity is not None
        assert (data.activity.converts, data.activity.value) == (1, 25.0)
    finally:
        await store.close()
        await proxy.close()


async def test_two_replicas_sending_the_same_batch_at_once_fold_it_once(
    make_store: StoreFactory,
) -> None:
    one, two = await make_store(), await make_store()
    await exposed(one, "twin")
    batch = [convert(f"twin-id-{i:04d}", 10.0) for i in range(5)]
    results = await asyncio.gather(
        one.users.record_batch("twin", batch, NOW, conversions=attribute),
        two.users.record_batch("twin", batch, NOW, conversions=attribute),
    )
    assert sorted(r.stored for r in results) == [0, 5]
    assert sum(r.duplicates for r in results) == 5
    data = await one.users.export_user("twin")
    assert data.activity is not None
    assert (data.activity.converts, data.activity.value) == (5, 50.0)
    assert await readout(one) == (1, 5, 50.0)


# ------------------------------------------------------------------------- the packed form


def packed(digests: Sequence[bytes], at: float) -> bytes:
    return SeenIds(None, at).packed_with(digests, at)


async def test_the_packed_set_keeps_the_newest_within_the_bound_and_the_window() -> None:
    old = packed([event_digest(f"old-{i:06d}") for i in range(3)], NOW - WINDOW_S - 1)
    kept = [event_digest(f"kept-{i:06d}") for i in range(MAX_IDS - 1)]
    raw = old + packed(kept, NOW - 60)
    seen = SeenIds(raw, NOW)
    assert seen.digests() == kept  # the expired ones are not read back
    assert event_digest("old-000000") not in seen and kept[5] in seen
    new = [event_digest("new-000001"), event_digest("new-000002")]
    bounded = SeenIds(seen.packed_with(new, NOW), NOW)
    assert len(bounded) == MAX_IDS
    assert bounded.digests()[-2:] == new  # newest last
    assert kept[0] not in bounded  # the oldest went
    assert kept[1] in bounded


async def test_a_digest_is_found_only_at_a_record_boundary() -> None:
    """A digest's bytes across two records (or inside a timestamp) is not a match."""
    a, b = event_digest("a-00000001"), event_digest("b-00000001")
    raw = packed([a, b], NOW)
    seen = SeenIds(raw, NOW)
    assert a in seen and b in seen
    straddle = raw[4:12]  # half a digest and its timestamp
    assert straddle not in seen
    assert raw[12 + 2 : 12 + 10] not in seen
    assert "not bytes" not in seen


async def test_a_truncated_value_is_read_up_to_its_last_whole_record() -> None:
    a, b = event_digest("a-00000001"), event_digest("b-00000001")
    raw = packed([a, b], NOW)
    assert SeenIds(raw[:-3], NOW).digests() == [a]
    assert len(SeenIds(None, NOW)) == 0 and len(SeenIds(b"", NOW)) == 0
