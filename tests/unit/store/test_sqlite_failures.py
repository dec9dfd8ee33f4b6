"""The SQLite store when the file fails it: another process holding the write lock past
busy_timeout, a path that cannot be opened, a poll that cannot read. Each is a StoreUnavailable
of the kind /metrics counts (a 503 at the edge), never a bare sqlite3 error, and the store
recovers once the cause is gone."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from uiserver.engine.activity import day_of
from uiserver.engine.readout import VariantCounts
from uiserver.store.base import Exposure, Invalidation, StoreUnavailable, store_errors
from uiserver.store.sqlite.store import SQLiteStore

pytestmark = pytest.mark.anyio


@contextmanager
def write_lock_held(path: Path) -> Iterator[sqlite3.Connection]:
    """Another process's connection holding the write lock (BEGIN IMMEDIATE) until exit."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield other
    finally:
        other.execute("ROLLBACK")
        other.close()


@contextmanager
def exclusively_locked(path: Path) -> Iterator[None]:
    """Another connection in exclusive locking mode that has written: in WAL mode, no other
    connection can read or write the file until it closes."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA locking_mode=EXCLUSIVE")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO meta (key, value) VALUES ('held', 'x')")
    other.execute("COMMIT")
    try:
        yield
    finally:
        other.close()


async def test_a_write_past_busy_timeout_is_unavailable_locked_and_writes_nothing(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite", busy_timeout_ms=20)
    await store.open()
    before = store_errors["locked"]
    with write_lock_held(store.path), pytest.raises(StoreUnavailable) as raised:
        await store.users.put_segments([("u1", ["churn"])])
    assert raised.value.kind == "locked"
    assert "locked" in str(raised.value)
    assert store_errors["locked"] == before + 1
    assert (await store.users.get_profile("u1")).segments == frozenset()
    await store.users.put_segments([("u1", ["churn"])])  # the lock gone: the same write succeeds
    assert (await store.users.get_profile("u1")).segments == {"churn"}
    await store.close()


async def test_a_read_of_an_exclusively_locked_file_is_unavailable_locked(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite", busy_timeout_ms=20)
    await store.open()
    await store.users.put_segments([("u1", ["churn"])])
    store.db.close()  # reopened on next use, after the other connection took the file
    with exclusively_locked(store.path):
        with pytest.raises(StoreUnavailable) as raised:
            await store.users.get_profile("u1")
        assert raised.value.kind == "locked"
        assert await store.ping() is False
    assert await store.ping() is True
    assert (await store.users.get_profile("u1")).segments == {"churn"}
    await store.close()


async def test_a_path_that_cannot_be_opened_is_unavailable_io(tmp_path: Path) -> None:
    (tmp_path / "db.sqlite").mkdir()  # a directory where the database file should be
    store = SQLiteStore(tmp_path / "db.sqlite")
    with pytest.raises(StoreUnavailable) as raised:
        await store.open()
    assert raised.value.kind == "io"
    assert str(tmp_path / "db.sqlite") in str(raised.value)
    assert await store.ping() is False


async def test_poll_before_first_use_delivers_nothing_and_opens_nothing(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite")
    received: list[Invalidation] = []
    store.add_listener(received.append)
    store.poll()
    assert received == []
    assert not (tmp_path / "db.sqlite").exists()


async def test_a_poll_that_cannot_read_logs_and_delivers_once_readable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "db.sqlite"
    reader = SQLiteStore(path)
    writer = SQLiteStore(path)
    await reader.open()
    await writer.open()
    received: list[Invalidation] = []
    reader.add_listener(received.append)
    await writer.users.put_segments([("u1", ["churn"])])
    await writer.close()
    damage = sqlite3.connect(path, isolation_level=None)
    damage.execute("ALTER TABLE changes RENAME TO changes_away")  # the change log unreadable
    reader.poll()  # never raises on the hot path
    assert "sqlite poll failed" in caplog.text
    assert received == []
    damage.execute("ALTER TABLE changes_away RENAME TO changes")
    damage.close()
    reader.poll()  # readable again: the change is delivered
    assert Invalidation("user", "u1") in received
    await reader.close()


async def test_an_erase_blocked_from_truncating_the_wal_warns_and_the_next_one_truncates(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite", busy_timeout_ms=20)
    await store.open()
    await store.users.put_segments([("u1", ["churn"]), ("u2", ["vip"])])
    wal = tmp_path / "db.sqlite-wal"
    reader = sqlite3.connect(store.path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM segments").fetchone()  # a snapshot before the erase
    await store.users.erase_user("u1")
    assert (await store.users.get_profile("u1")).segments == frozenset()  # erased regardless
    assert "blocked by a reader" in caplog.text
    assert wal.stat().st_size > 0  # the erased rows' pages may still be in the WAL
    reader.execute("COMMIT")
    reader.close()
    caplog.clear()
    await store.users.erase_user("u2")
    assert "blocked" not in caplog.text
    assert wal.stat().st_size == 0  # copied into the database and truncated
    await store.close()


SERVED = Exposure("exp", "control", day_of(time.time()), "ann", True, cohort="standard/new")


async def readout(store: SQLiteStore) -> list[VariantCounts]:
    return await store.activity.experiment_counts("exp", ["control", "treated"])


async def test_a_readout_of_a_removed_database_file_is_unavailable_io(tmp_path: Path) -> None:
    """The readout opens the file again, read-only, in a thread: a file removed under a
    running server is a 503 (io), not a 500."""
    store = SQLiteStore(tmp_path / "db.sqlite")
    await store.open()
    await store.activity.record_activity({}, [SERVED])
    assert [c.exposed for c in await readout(store)] == [1, 0]
    for path in tmp_path.iterdir():
        path.unlink()
    with pytest.raises(StoreUnavailable) as raised:
        await readout(store)
    assert raised.value.kind == "io"
    await store.close()


async def test_a_readout_that_cannot_read_its_tables_is_unavailable(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite")
    await store.open()
    await store.activity.record_activity({}, [SERVED])
    damage = sqlite3.connect(store.path, isolation_level=None)
    damage.execute("ALTER TABLE experiment_cohorts RENAME TO away")
    with pytest.raises(StoreUnavailable) as raised:
        await readout(store)
    assert raised.value.kind == "io"
    damage.execute("ALTER TABLE away RENAME TO experiment_cohorts")
    damage.close()
    assert [c.exposed for c in await readout(store)] == [1, 0]
    await store.close()


async def test_a_profile_read_of_a_damaged_file_is_unavailable_io(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite")
    await store.open()
    await store.users.put_segments([("u1", ["churn"])])
    damage = sqlite3.connect(store.path, isolation_level=None)
    damage.execute("ALTER TABLE segments RENAME TO away")
    with pytest.raises(StoreUnavailable) as raised:
        await store.users.get_profile("u1")
    assert raised.value.kind == "io" and "segments" in str(raised.value)
    damage.execute("ALTER TABLE away RENAME TO segments")
    damage.close()
    assert (await store.users.get_profile("u1")).segments == {"churn"}
    await store.close()
