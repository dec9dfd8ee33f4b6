"""The SQLite store's seen event ids (`store.event_ids`): the user's packed set (12 bytes an id,
`store.event_ids.SeenIds`) in their own row, `users.event_ids`, read and written in the events
batch's own transaction.

In the user's row because that row is written by every batch anyway: a table of its own
(two more b-trees written per batch) took a 7-event batch from ~80 to ~160 us of CPU, the row
takes it to ~105-130 us (`loadtests/bench_events.py`, 2026-12-02; 250-330 us for a user at the
1,000-id bound, whose 12 KB set spills to overflow pages). Erasing the row erases the set (and
`secure_delete` plus the checkpoint leave nothing on disk). Ids past the window are never read
and are dropped when the user's next batch writes the set.
"""

from __future__ import annotations

import sqlite3

from uiserver.store.event_ids import SeenIds


def migrate(conn: sqlite3.Connection) -> None:
    """Add `users.event_ids` to a database made before event ids (idempotent); drop the
    `event_ids` table an early build of this change made."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(users)")}
    if "event_ids" not in columns:
        conn.execute("ALTER TABLE users ADD COLUMN event_ids BLOB")
    conn.execute("DROP TABLE IF EXISTS event_ids")


def read(conn: sqlite3.Connection, user_id: str, now: float) -> SeenIds:
    """The user's seen ids within the window."""
    row = conn.execute("SELECT event_ids FROM users WHERE user_id = ?", (user_id,)).fetchone()
    return SeenIds(None if row is None else row[0], now)


def write(conn: sqlite3.Connection, user_id: str, packed: bytes) -> None:
    """Store the user's set (their row exists: the batch wrote it first)."""
    conn.execute("UPDATE users SET event_ids = ? WHERE user_id = ?", (packed, user_id))
