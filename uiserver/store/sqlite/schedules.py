"""The SQLite store's `ScheduleStore`: one row per rollout schedule; a partial unique index
keeps one active schedule per page, and every update is a compare-and-set on `rev` in one write
transaction (so of two processes acting on the same step, one wins).

Schedules belong to pages, not to users: no `user_id` column, no invalidation (the scheduler
reads them on every look; the rollouts they drive invalidate through the template writes).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from uiserver.store.base import SCHEDULES_KEPT, ScheduleRow
from uiserver.store.sqlite.database import Database

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS schedules (
        page TEXT NOT NULL, id TEXT NOT NULL, rev INTEGER NOT NULL, active INTEGER NOT NULL,
        created REAL NOT NULL, document BLOB NOT NULL,
        PRIMARY KEY (page, id)
    ) WITHOUT ROWID""",
    "CREATE UNIQUE INDEX IF NOT EXISTS schedules_active ON schedules (page) WHERE active = 1",
)
COLUMNS = "page, id, rev, active, created, document"


def _row(values: tuple[Any, ...]) -> ScheduleRow:
    page, id_, rev, active, created, document = values
    return ScheduleRow(page, id_, rev, bool(active), created, bytes(document))


def _prune(conn: sqlite3.Connection, page: str) -> None:
    conn.execute(
        "DELETE FROM schedules WHERE page = ? AND active = 0 AND id NOT IN "
        "(SELECT id FROM schedules WHERE page = ? ORDER BY created DESC, id DESC LIMIT ?)",
        (page, page, SCHEDULES_KEPT),
    )


class SQLiteSchedules:
    """The `ScheduleStore` of the SQLite store."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create_schedule(self, row: ScheduleRow) -> ScheduleRow | None:
        with self._db.tx(write=True) as conn:
            active = conn.execute(
                f"SELECT {COLUMNS} FROM schedules WHERE page = ? AND active = 1", (row.page,)
            ).fetchone()
            if active is not None:
                return _row(active)
            conn.execute(
                f"INSERT INTO schedules ({COLUMNS}) VALUES (?, ?, ?, 1, ?, ?)",
                (row.page, row.id, row.rev, row.created, row.document),
            )
            _prune(conn, row.page)
        return None

    async def update_schedule(self, row: ScheduleRow, expect_rev: int) -> bool:
        with self._db.tx(write=True) as conn:
            cursor = conn.execute(
                "UPDATE schedules SET rev = ?, active = ?, document = ? "
                "WHERE page = ? AND id = ? AND rev = ?",
                (row.rev, int(row.active), row.document, row.page, row.id, expect_rev),
            )
            return cursor.rowcount == 1

    async def schedules(self, page: str | None = None) -> list[ScheduleRow]:
        with self._db.tx(write=False) as conn:
            if page is None:
                rows = conn.execute(
                    f"SELECT {COLUMNS} FROM schedules WHERE active = 1 ORDER BY page"
                ).fetchall()
            else:
                rows = conn.execute(
                    f"SELECT {COLUMNS} FROM schedules WHERE page = ? "
                    "ORDER BY created DESC, id DESC",
                    (page,),
                ).fetchall()
        return [_row(r) for r in rows]
