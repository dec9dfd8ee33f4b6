"""The SQLite store's invalidation transport: a `changes` log other processes read.

Every write that changes a layout input appends rows to the log in its own transaction (and the
store calls this process's listeners after commit). `poll` reads `PRAGMA data_version` (it moves
only when *another* connection committed; ~3.5 us measured) and only then reads the log past the
last row it saw. The log is pruned to the newest `keep` rows and `max_age` seconds; a process
that fell behind the pruning receives `Invalidation("all")` instead of what it missed.

An erase must leave nothing naming the user on disk, so its notice is an `erased` row with no
key: other processes read it as `Invalidation("all")` (erasures are rare; the erasing process
itself drops just the user).
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Sequence

from uiserver.store.base import Invalidation

PRUNE_EVERY = 256  # change rows appended between two prunes of the log
ERASED = "erased"  # the kind of an erase notice (read as `all`)

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, key TEXT NOT NULL,
        origin TEXT NOT NULL, ts REAL NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID",
)


class ChangeLog:
    """This process's position in the shared change log. Not locked: the store calls it under
    its connection lock, inside the transactions it names."""

    def __init__(self, keep: int, max_age: float) -> None:
        self.keep = keep
        self.max_age = max_age
        self.origin = secrets.token_hex(8)  # tells our own change rows from other processes'
        self._last_seq = 0
        self._data_version = 0
        self._appended = 0

    def start(self, conn: sqlite3.Connection, now: float) -> None:
        """Inside the schema transaction of a new connection: prune, then start at the end
        (the caller commits before `mark_read`)."""
        self.prune(conn, now)

    def mark_read(self, conn: sqlite3.Connection) -> None:
        """After the schema transaction: everything logged so far counts as seen."""
        self._last_seq = conn.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0]
        self._data_version = conn.execute("PRAGMA data_version").fetchone()[0]

    def append(
        self, conn: sqlite3.Connection, invalidations: Sequence[Invalidation], now: float
    ) -> None:
        """Inside a write transaction: log the changes for the other processes."""
        conn.executemany(
            "INSERT INTO changes (kind, key, origin, ts) VALUES (?, ?, ?, ?)",
            [(inv.kind, inv.key, self.origin, now) for inv in invalidations],
        )
        self._appended += len(invalidations)
        if self._appended >= PRUNE_EVERY:
            self.prune(conn, now)

    def append_erased(self, conn: sqlite3.Connection, now: float) -> None:
        """Inside an erase's transaction: a notice for the other processes that names nobody."""
        conn.execute(
            "INSERT INTO changes (kind, key, origin, ts) VALUES (?, '', ?, ?)",
            (ERASED, self.origin, now),
        )

    def prune(self, conn: sqlite3.Connection, now: float) -> None:
        """Drop change rows past the newest `keep` or older than `max_age`."""
        self._appended = 0
        newest = conn.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0]
        through = conn.execute(
            "SELECT coalesce(max(seq), 0) FROM changes WHERE seq <= ? OR ts < ?",
            (newest - self.keep, now - self.max_age),
        ).fetchone()[0]
        if through:
            conn.execute("DELETE FROM changes WHERE seq <= ?", (through,))
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('pruned_through', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
                (through,),
            )

    def moved(self, conn: sqlite3.Connection) -> bool:
        """Whether another connection committed since the last call (outside a transaction)."""
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if version == self._data_version:
            return False
        self._data_version = version
        return True

    def read(self, conn: sqlite3.Connection) -> list[Invalidation]:
        """Inside a read transaction: other processes' changes since the last read, or one
        `all` when pruning removed rows this process had not read."""
        pruned = conn.execute("SELECT value FROM meta WHERE key = 'pruned_through'").fetchone()
        rows = conn.execute(
            "SELECT seq, kind, key, origin FROM changes WHERE seq > ? ORDER BY seq",
            (self._last_seq,),
        ).fetchall()
        missed = pruned is not None and pruned[0] > self._last_seq
        if rows:
            self._last_seq = rows[-1][0]
        if missed:
            return [Invalidation("all")]
        return [
            Invalidation("all") if kind == ERASED else Invalidation(kind, key)
            for _, kind, key, origin in rows
            if origin != self.origin
        ]
