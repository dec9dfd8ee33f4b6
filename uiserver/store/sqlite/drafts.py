"""The SQLite store's `DraftStore`: one row per (designer, page), the editor's text as typed.

Drafts belong to designers, not to users of the mini-program: they live in their own table,
outside `USER_TABLES` and the change log (no cache depends on them).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from uiserver.store.base import DraftRecord
from uiserver.store.sqlite.database import Database

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS drafts (
        author TEXT NOT NULL, page TEXT NOT NULL, text TEXT NOT NULL,
        base_version TEXT NOT NULL, updated REAL NOT NULL,
        PRIMARY KEY (author, page)
    ) WITHOUT ROWID""",
)
COLUMNS = "author, page, text, base_version, updated"


def put(conn: sqlite3.Connection, draft: DraftRecord) -> None:
    conn.execute(
        f"INSERT INTO drafts ({COLUMNS}) VALUES (?, ?, ?, ?, ?) ON CONFLICT (author, page) "
        "DO UPDATE SET text = excluded.text, base_version = excluded.base_version, "
        "updated = excluded.updated",
        (draft.author, draft.page, draft.text, draft.base_version, draft.updated),
    )


def get(conn: sqlite3.Connection, author: str, page: str) -> DraftRecord | None:
    row = conn.execute(
        f"SELECT {COLUMNS} FROM drafts WHERE author = ? AND page = ?", (author, page)
    ).fetchone()
    return None if row is None else _record(row)


def delete(conn: sqlite3.Connection, author: str, page: str) -> bool:
    cursor = conn.execute("DELETE FROM drafts WHERE author = ? AND page = ?", (author, page))
    return cursor.rowcount > 0


def of_author(conn: sqlite3.Connection, author: str) -> list[DraftRecord]:
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM drafts WHERE author = ? ORDER BY page", (author,)
    ).fetchall()
    return [_record(row) for row in rows]


def _record(row: tuple[Any, ...]) -> DraftRecord:
    author, page, text, base_version, updated = row
    return DraftRecord(author, page, text, base_version, updated)


class SQLiteDrafts:
    """The `DraftStore` of the SQLite store."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def put_draft(self, draft: DraftRecord) -> None:
        with self._db.tx(write=True) as conn:
            put(conn, draft)

    async def get_draft(self, author: str, page: str) -> DraftRecord | None:
        with self._db.tx(write=False) as conn:
            return get(conn, author, page)

    async def delete_draft(self, author: str, page: str) -> bool:
        with self._db.tx(write=True) as conn:
            return delete(conn, author, page)

    async def drafts(self, author: str) -> list[DraftRecord]:
        with self._db.tx(write=False) as conn:
            return of_author(conn, author)
