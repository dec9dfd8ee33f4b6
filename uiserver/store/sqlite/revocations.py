"""The SQLite store's `RevocationStore`: one row per revoked subject or `jti`.

Revocations name designers and users by their token's `sub`, in a `subject` column (not
`user_id`): erasing a user's data must not lift a revocation of their tokens. Each write appends
an `Invalidation("revocation", <the record as JSON>)` to the change log, so the other processes
apply it on their next `poll()` without reading the table.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec

from uiserver.store.base import Invalidation, Revocation
from uiserver.store.sqlite.database import Database

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS revocations (
        kind TEXT NOT NULL, value TEXT NOT NULL, not_before REAL NOT NULL,
        expires REAL NOT NULL, author TEXT NOT NULL,
        PRIMARY KEY (kind, value)
    ) WITHOUT ROWID""",
)
COLUMNS = "kind, value, not_before, expires, author"
encode_revocation = msgspec.json.Encoder().encode


def _record(row: tuple[Any, ...]) -> Revocation:
    kind, value, not_before, expires, author = row
    return Revocation(kind, value, float(not_before), float(expires), author)


def upsert(conn: sqlite3.Connection, revocation: Revocation) -> Revocation:
    """Store it; a later not-before (and expiry) wins, an earlier one changes nothing."""
    conn.execute(
        f"INSERT INTO revocations ({COLUMNS}) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (kind, value) DO UPDATE SET "
        "not_before = max(not_before, excluded.not_before), "
        "expires = max(expires, excluded.expires), author = excluded.author",
        (
            revocation.kind,
            revocation.value,
            revocation.not_before,
            revocation.expires,
            revocation.author,
        ),
    )
    row = conn.execute(
        f"SELECT {COLUMNS} FROM revocations WHERE kind = ? AND value = ?",
        (revocation.kind, revocation.value),
    ).fetchone()
    return _record(row)


class SQLiteRevocations:
    """The `RevocationStore` of the SQLite store."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def revoke(self, revocation: Revocation) -> Revocation:
        with self._db.tx(write=True) as conn:
            conn.execute("DELETE FROM revocations WHERE expires < ?", (revocation.not_before,))
            stored = upsert(conn, revocation)
            changes = [Invalidation("revocation", encode_revocation(stored).decode())]
            self._db.changes.append(conn, changes, revocation.not_before)
        self._db.listeners.emit(changes)
        return stored

    async def revocations(self, now: float) -> list[Revocation]:
        rows = self._db.query(
            f"SELECT {COLUMNS} FROM revocations WHERE expires >= ? ORDER BY kind, value", (now,)
        )
        return [_record(row) for row in rows]
