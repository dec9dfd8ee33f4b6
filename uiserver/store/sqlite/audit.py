"""The SQLite store's `AuditStore`: one row per administrative act.

`id` is an AUTOINCREMENT rowid, so ids are monotonic and never reused, even after pruning
removed every row. No column names an end user (the table has no `user_id` column: erasure
never looks at it). Indexes serve the API's filters, each by id, newest first.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec

from uiserver.store.base import AuditEntry, AuditPage, AuditQuery
from uiserver.store.sqlite.database import Database

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, actor TEXT NOT NULL,
        act TEXT NOT NULL, page TEXT NOT NULL, body BLOB NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS audit_page ON audit (page, id)",
    "CREATE INDEX IF NOT EXISTS audit_act ON audit (act, id)",
    "CREATE INDEX IF NOT EXISTS audit_actor ON audit (actor, id)",
    "CREATE INDEX IF NOT EXISTS audit_time ON audit (time)",
)
COLUMNS = "id, time, actor, act, page, body"


class _Body(msgspec.Struct, frozen=True):
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    details: dict[str, Any] = msgspec.field(default_factory=dict)


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(_Body).decode


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    entry_id, time, actor, act, page, body = row
    parts = _decode(body)
    return AuditEntry(
        int(entry_id), float(time), actor, act, page, parts.before, parts.after, parts.details
    )


def _where(query: AuditQuery) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    for column, value in (("page", query.page), ("act", query.act), ("actor", query.actor)):
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    if query.before:
        clauses.append("id < ?")
        args.append(query.before)
    if query.since is not None:
        clauses.append("time >= ?")
        args.append(query.since)
    if query.until is not None:
        clauses.append("time < ?")
        args.append(query.until)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def insert(conn: sqlite3.Connection, entry: AuditEntry) -> AuditEntry:
    """Inside a write transaction (an act's own, `SQLiteTemplates`): append `entry`; the entry
    with its id."""
    body = _encode(_Body(entry.before, entry.after, entry.details))
    cursor = conn.execute(
        "INSERT INTO audit (time, actor, act, page, body) VALUES (?, ?, ?, ?, ?)",
        (entry.time, entry.actor, entry.act, entry.page, body),
    )
    return msgspec.structs.replace(entry, id=int(cursor.lastrowid or 0))


class SQLiteAudit:
    """The `AuditStore` of the SQLite store."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def append(self, entry: AuditEntry) -> AuditEntry:
        with self._db.tx(write=True) as conn:
            return insert(conn, entry)

    async def entries(self, query: AuditQuery) -> AuditPage:
        where, args = _where(query)
        rows = self._db.query(
            f"SELECT {COLUMNS} FROM audit{where} ORDER BY id DESC LIMIT ?",
            [*args, query.limit + 1],
        )
        entries = [_entry(row) for row in rows[: query.limit]]
        more = len(rows) > query.limit
        return AuditPage(entries, entries[-1].id if more and entries else None)

    async def after(self, after_id: int, limit: int) -> list[AuditEntry]:
        rows = self._db.query(
            f"SELECT {COLUMNS} FROM audit WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
        )
        return [_entry(row) for row in rows]

    async def last_id(self) -> int:
        rows = self._db.query("SELECT seq FROM sqlite_sequence WHERE name = 'audit'", ())
        return int(rows[0][0]) if rows else 0

    async def prune(self, older_than: float) -> int:
        with self._db.tx(write=True) as conn:
            return conn.execute("DELETE FROM audit WHERE time < ?", (older_than,)).rowcount
