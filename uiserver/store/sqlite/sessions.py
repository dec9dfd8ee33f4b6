"""The SQLite store's `SessionStore`: one row per console session id (its SHA-256, never the
cookie's value), indexed by family so a logout ends every rotated id of a sign-in.

Sessions belong to designers, not to users of the mini-program: a `subject` column (not
`user_id`), no change-log rows (every console request reads its session here).
"""

from __future__ import annotations

import sqlite3

import msgspec

from uiserver.store.base import SessionRecord
from uiserver.store.sqlite.database import Database

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS sessions (
        id_hash TEXT PRIMARY KEY, family TEXT NOT NULL, subject TEXT NOT NULL,
        expires REAL NOT NULL, record BLOB NOT NULL
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS sessions_family ON sessions (family)",
)
_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(SessionRecord).decode


def _put(conn: sqlite3.Connection, record: SessionRecord) -> None:
    conn.execute(
        "INSERT INTO sessions (id_hash, family, subject, expires, record) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (id_hash) DO UPDATE SET expires = excluded.expires, record = excluded.record",
        (record.id_hash, record.family, record.subject, record.expires, _encode(record)),
    )


def _get(conn: sqlite3.Connection, id_hash: str) -> SessionRecord | None:
    row = conn.execute("SELECT record FROM sessions WHERE id_hash = ?", (id_hash,)).fetchone()
    return None if row is None else _decode(row[0])


class SQLiteSessions:
    """The `SessionStore` of the SQLite store."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create_session(self, record: SessionRecord, now: float) -> None:
        with self._db.tx(write=True) as conn:
            conn.execute("DELETE FROM sessions WHERE expires < ?", (now,))
            _put(conn, record)

    async def get_session(self, id_hash: str) -> SessionRecord | None:
        with self._db.tx(write=False) as conn:
            return _get(conn, id_hash)

    async def touch_session(self, id_hash: str, last_seen: float) -> None:
        with self._db.tx(write=True) as conn:
            record = _get(conn, id_hash)
            if record is not None and last_seen > record.last_seen:
                _put(conn, msgspec.structs.replace(record, last_seen=last_seen))

    async def rotate_session(self, old: SessionRecord, new: SessionRecord, now: float) -> bool:
        with self._db.tx(write=True) as conn:
            current = _get(conn, old.id_hash)
            if current is None or current.replaced:
                return False
            _put(conn, msgspec.structs.replace(current, replaced=now))
            _put(conn, new)
        return True

    async def end_family(self, family: str) -> int:
        with self._db.tx(write=True) as conn:
            cursor = conn.execute("DELETE FROM sessions WHERE family = ?", (family,))
            return cursor.rowcount
