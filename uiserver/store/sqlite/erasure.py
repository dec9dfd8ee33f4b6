"""The SQLite store's erasure: every row about a user, their erasure epoch, the `-wal` file.

"Everything about the user" is found from the schema: every table with a `user_id` column (a
per-user table added later is erased by construction). The erase moves the user's bucket epoch
on (`engine.hashing.erasure_bucket`) in the same transaction, and every write carrying an older
epoch is refused inside its own write transaction (`check`): writes are serialised by SQLite's write
lock, across processes too, so no write that started before the erase can land after it.

On disk: `PRAGMA secure_delete=ON` (set on every connection) overwrites deleted content; the
change log's rows naming the user are deleted and the erase notice names nobody; a
`wal_checkpoint(TRUNCATE)` after the commit copies the pages into the database and empties the
`-wal` file, where earlier versions of the user's pages would otherwise stay readable.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

from uiserver.engine.hashing import erasure_bucket
from uiserver.store._common import log
from uiserver.store.base import ErasedMeanwhile

USER_COLUMN = "user_id"
K = TypeVar("K")

SCHEMA = (
    # Erasure epochs by bucket of users: counts, names nobody.
    """CREATE TABLE IF NOT EXISTS erasures (
        bucket INTEGER PRIMARY KEY, epoch INTEGER NOT NULL
    )""",
)


def epoch(conn: sqlite3.Connection, user_id: str) -> int:
    """The user's erasure epoch (0 when their bucket never saw an erase)."""
    row = conn.execute(
        "SELECT epoch FROM erasures WHERE bucket = ?", (erasure_bucket(user_id),)
    ).fetchone()
    return 0 if row is None else int(row[0])


# Keys a batch read names per statement (`epochs`, `activity.read_many`): a chunk is padded to
# this many with its first key, so the statement text is one and SQLite prepares it once.
READ_CHUNK = 128
_EPOCHS = f"SELECT bucket, epoch FROM erasures WHERE bucket IN ({', '.join('?' * READ_CHUNK)})"


def chunks(keys: Sequence[K]) -> Iterator[list[K]]:
    """`keys` in lists of exactly READ_CHUNK, the last padded with its own first key."""
    for start in range(0, len(keys), READ_CHUNK):
        chunk = list(keys[start : start + READ_CHUNK])
        yield chunk + [chunk[0]] * (READ_CHUNK - len(chunk))


def epochs(conn: sqlite3.Connection, user_ids: Iterable[str]) -> dict[str, int]:
    """`epoch` of many users, READ_CHUNK buckets a statement."""
    buckets = {user_id: erasure_bucket(user_id) for user_id in user_ids}
    found: dict[int, int] = {}
    for chunk in chunks(list(set(buckets.values()))):
        found.update(conn.execute(_EPOCHS, chunk))
    return {user_id: int(found.get(bucket, 0)) for user_id, bucket in buckets.items()}


def check(conn: sqlite3.Connection, user_id: str, expected: int | None) -> None:
    """Inside a write transaction: raise ErasedMeanwhile when the user was erased after the
    write read `expected` (None: an unconditional write)."""
    if expected is not None and epoch(conn, user_id) != expected:
        raise ErasedMeanwhile("the user was erased after this write started")


def user_tables(conn: sqlite3.Connection) -> list[str]:
    """Every table with a `user_id` column, read from the schema."""
    names = [
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return [
        name
        for name in names
        if any(column[1] == USER_COLUMN for column in conn.execute(f'PRAGMA table_info("{name}")'))
    ]


def erase_rows(conn: sqlite3.Connection, user_id: str) -> None:
    """Inside a write transaction: delete the user's rows, their change-log rows, and move
    their epoch on (the caller appends the notice that names nobody)."""
    for table in user_tables(conn):
        conn.execute(f'DELETE FROM "{table}" WHERE {USER_COLUMN} = ?', (user_id,))
    conn.execute("DELETE FROM changes WHERE kind = 'user' AND key = ?", (user_id,))
    conn.execute(
        "INSERT INTO erasures (bucket, epoch) VALUES (?, 1) "
        "ON CONFLICT (bucket) DO UPDATE SET epoch = epoch + 1",
        (erasure_bucket(user_id),),
    )


def checkpoint(conn: sqlite3.Connection) -> bool:
    """After the erase committed: copy the WAL into the database and truncate it (waits for
    other processes' readers up to busy_timeout). False, and a warning, when a reader kept it
    from completing: SQLite's next checkpoint (or the next erase) finishes it."""
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except sqlite3.Error as exc:
        log.warning("sqlite checkpoint after an erase failed: %s", exc)
        return False
    if busy:
        log.warning("sqlite checkpoint after an erase was blocked by a reader")
    return not busy
