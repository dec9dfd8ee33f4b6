"""The SQLite store's seen event ids (`store.event_ids`): one row per (user, id digest), written
in the events batch's own transaction.

`event_ids` has a `user_id` column, so erasure deletes it by construction (and `secure_delete`
plus the checkpoint leave nothing on disk). Bounds, kept by every write: rows older than
WINDOW_S are deleted (everyone's, a few at a time through the `seen` index, so an idle user's
ids go too), and a user keeps at most MAX_IDS rows (the oldest deleted first).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from uiserver.store.event_ids import MAX_IDS, WINDOW_S

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS event_ids (
        user_id TEXT NOT NULL, digest BLOB NOT NULL, seen REAL NOT NULL,
        PRIMARY KEY (user_id, digest)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS event_ids_seen ON event_ids (seen)",
)

# Expired rows (any user's) deleted per write: more than a write adds, so the table shrinks
# back to the window however idle its users are.
SWEEP = 2 * MAX_IDS


def seen(
    conn: sqlite3.Connection, user_id: str, digests: Sequence[bytes], now: float
) -> set[bytes]:
    """Which of `digests` the user's set holds (expired rows not yet swept do not count)."""
    if not digests:
        return set()
    # SQLite's default limit on host parameters is 32,766; a batch has at most 500 ids.
    marks = ",".join("?" * len(digests))
    rows = conn.execute(
        f"SELECT digest FROM event_ids WHERE user_id = ? AND seen >= ? AND digest IN ({marks})",
        (user_id, now - WINDOW_S, *digests),
    )
    return {bytes(digest) for (digest,) in rows}


def remember(conn: sqlite3.Connection, user_id: str, digests: Sequence[bytes], now: float) -> None:
    """Add the digests (seen `now`), then keep the bounds: expired rows and the user's rows past
    MAX_IDS go. Inside the batch's write transaction."""
    conn.execute(
        "DELETE FROM event_ids WHERE (user_id, digest) IN (SELECT user_id, digest "
        "FROM event_ids WHERE seen < ? ORDER BY seen LIMIT ?)",
        (now - WINDOW_S, SWEEP),
    )
    if not digests:
        return
    conn.executemany(
        "INSERT OR IGNORE INTO event_ids (user_id, digest, seen) VALUES (?, ?, ?)",
        [(user_id, digest, now) for digest in digests],
    )
    (count,) = conn.execute(
        "SELECT count(*) FROM event_ids WHERE user_id = ?", (user_id,)
    ).fetchone()
    if count > MAX_IDS:
        conn.execute(
            "DELETE FROM event_ids WHERE user_id = ? AND digest IN (SELECT digest "
            "FROM event_ids WHERE user_id = ? ORDER BY seen, digest LIMIT ?)",
            (user_id, user_id, count - MAX_IDS),
        )


def count(conn: sqlite3.Connection, user_id: str, now: float) -> int:
    """How many ids the user's set holds now (the export)."""
    (n,) = conn.execute(
        "SELECT count(*) FROM event_ids WHERE user_id = ? AND seen >= ?",
        (user_id, now - WINDOW_S),
    ).fetchone()
    return int(n)
