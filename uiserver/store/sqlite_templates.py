"""The SQLite store's template history: statements over a connection, inside its transactions.

One table, append-only; the live version of a page is its highest seq.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from uiserver.store._common import check_same_document
from uiserver.store.base import TemplateRecord

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS templates (
        page TEXT NOT NULL, seq INTEGER NOT NULL, version TEXT NOT NULL, document BLOB NOT NULL,
        author TEXT NOT NULL, message TEXT NOT NULL, created REAL NOT NULL,
        PRIMARY KEY (page, seq)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS templates_by_version ON templates (page, version, seq)",
)
COLUMNS = "page, version, document, author, message, created, seq"


def append(
    conn: sqlite3.Connection,
    page: str,
    version: str,
    document: bytes,
    author: str,
    message: str,
    now: float,
) -> tuple[TemplateRecord, bool]:
    """Inside a write transaction: make `version` live; (the live record, whether appended).

    The live version again: nothing appended. A known version with other content: ValueError.
    """
    current = live(conn, page)
    if current is not None and current.version == version:
        check_same_document(current, document)
        return current, False
    earlier = newest_of_version(conn, page, version)
    if earlier is not None:
        check_same_document(earlier, document)
    seq = 1 if current is None else current.seq + 1
    record = TemplateRecord(page, version, bytes(document), author, message, now, seq)
    conn.execute(
        f"INSERT INTO templates ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (page, version, record.document, author, message, now, seq),
    )
    return record, True


def all_live(conn: sqlite3.Connection) -> dict[str, TemplateRecord]:
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM templates t WHERE seq = "
        "(SELECT max(seq) FROM templates WHERE page = t.page) ORDER BY page"
    ).fetchall()
    return {row[0]: _record(row) for row in rows}


def live(conn: sqlite3.Connection, page: str) -> TemplateRecord | None:
    row = conn.execute(
        f"SELECT {COLUMNS} FROM templates WHERE page = ? ORDER BY seq DESC LIMIT 1", (page,)
    ).fetchone()
    return None if row is None else _record(row)


def newest_of_version(conn: sqlite3.Connection, page: str, version: str) -> TemplateRecord | None:
    row = conn.execute(
        f"SELECT {COLUMNS} FROM templates WHERE page = ? AND version = ? "
        "ORDER BY seq DESC LIMIT 1",
        (page, version),
    ).fetchone()
    return None if row is None else _record(row)


def history(conn: sqlite3.Connection, page: str) -> list[TemplateRecord]:
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM templates WHERE page = ? ORDER BY seq DESC", (page,)
    ).fetchall()
    return [_record(row) for row in rows]


def _record(row: tuple[Any, ...]) -> TemplateRecord:
    page, version, document, author, message, created, seq = row
    return TemplateRecord(page, version, bytes(document), author, message, created, seq)
