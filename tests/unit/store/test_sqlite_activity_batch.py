"""The SQLite activity flush reads a batch's epochs and counters a chunk at a time
(`erasure.epochs`, `activity.read_many`): the same answers as the one-user reads it replaced,
for more users than a chunk, every kind of stored row, and users erased since they were
served."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from uiserver.engine.activity import NEVER_SEEN, day_of, first_seen, record_launches
from uiserver.engine.hashing import erasure_bucket
from uiserver.store.base import Exposure
from uiserver.store.sqlite import activity, erasure
from uiserver.store.sqlite.store import SQLiteStore

pytestmark = pytest.mark.anyio

NOW = 1_767_000_000.0
DAY = day_of(NOW)


def seeded(path: Path) -> tuple[sqlite3.Connection, list[str]]:
    """A store with 3 x READ_CHUNK + 7 users of four kinds: never stored, stored before
    counters (no `activity`, a creation time), stored with counters, and erased buckets."""
    conn = sqlite3.connect(path / "uiserver.db", isolation_level=None)
    users = [f"u{i:04d}" for i in range(3 * erasure.READ_CHUNK + 7)]
    for i, user in enumerate(users):
        kind = i % 4
        if kind == 1:  # stored before counters existed: known since the row was created
            created = NOW - (i % 40) * 86_400
            conn.execute(
                "INSERT INTO users (user_id, created, updated) VALUES (?, ?, ?)",
                (user, created, created),
            )
        elif kind == 2:
            activity.write(conn, user, record_launches(None, DAY - (i % 9), i % 3 + 1), NOW)
        elif kind == 3:
            conn.execute(
                "INSERT INTO erasures (bucket, epoch) VALUES (?, ?) "
                "ON CONFLICT (bucket) DO UPDATE SET epoch = epoch + 1",
                (erasure_bucket(user), 1),
            )
    return conn, users


async def opened(path: Path) -> SQLiteStore:
    store = SQLiteStore(path / "uiserver.db")
    await store.open()
    return store


async def test_batch_reads_answer_as_the_one_user_reads(tmp_path: Path) -> None:
    store = await opened(tmp_path)
    try:
        conn, users = seeded(tmp_path)
        asked = [*users, "never-stored", users[0]]  # a user named twice reads once
        epochs = erasure.epochs(conn, asked)
        assert epochs == {user: erasure.epoch(conn, user) for user in asked}
        assert 0 in epochs.values() and max(epochs.values()) > 0
        counters = activity.read_many(conn, asked)
        expected = {}
        for user in asked:
            one = activity.read(conn, user)
            if one is None:
                created = conn.execute(
                    "SELECT created FROM users WHERE user_id = ?", (user,)
                ).fetchone()[0]
                one = first_seen(day_of(created))
            expected[user] = one
        assert counters == expected
        assert counters["never-stored"] is NEVER_SEEN
        assert counters[users[1]].first == DAY - 1  # created a day before NOW (i = 1)
        conn.close()
    finally:
        await store.close()


async def test_a_flush_of_many_users_writes_what_one_user_writes_would(tmp_path: Path) -> None:
    """`record` over the whole batch against the same fold done user by user."""
    store = await opened(tmp_path)
    try:
        conn, users = seeded(tmp_path)
        launches = {user: (DAY, 1, 0) for user in users}
        exposures = [
            Exposure("exp", "a", DAY, user, True, 0, NOW - 5, "standard/new", 7)
            for user in users[::2]
        ]
        before = {}
        for user in users:
            one = activity.read(conn, user)
            before[user] = one if one is not None else first_seen(activity._created_day(conn, user))
        current = [u for u in users if erasure.epoch(conn, u) == 0]
        conn.execute("BEGIN IMMEDIATE")
        changed = activity.record(conn, launches, exposures, time.time())
        conn.execute("COMMIT")
        assert changed == sorted(current)
        for user in users:
            after = activity.read(conn, user)
            if user not in current:  # erased since served: nothing written about them
                stored = conn.execute(
                    "SELECT activity FROM users WHERE user_id = ?", (user,)
                ).fetchone()
                assert stored is None or stored[0] is None or after == before[user]
                continue
            assert after is not None
            launched = record_launches(before[user], DAY, 1)
            assert after.days == launched.days
            assert after.first == launched.first and after.last == launched.last
            assert ("exp" in after.markers) == (users.index(user) % 2 == 0)
        conn.close()
    finally:
        await store.close()
