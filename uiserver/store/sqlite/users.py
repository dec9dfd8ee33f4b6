"""The SQLite store's user tables: their schema and the reads of one user's rows.

Every per-user table has a `user_id` column: that is how erasure finds it (`sqlite_erasure`).
"""

from __future__ import annotations

import sqlite3

from uiserver.engine.affinity import Affinity
from uiserver.schema import Settings
from uiserver.store._common import decode_order, decode_settings

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS users (
        user_id TEXT PRIMARY KEY, settings TEXT, evidence INTEGER NOT NULL DEFAULT 0,
        affinity_ts REAL, last_event REAL, created REAL NOT NULL, updated REAL NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS affinities (
        user_id TEXT NOT NULL, key TEXT NOT NULL, score REAL NOT NULL,
        PRIMARY KEY (user_id, key)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS segments (
        user_id TEXT NOT NULL, segment TEXT NOT NULL, PRIMARY KEY (user_id, segment)
    ) WITHOUT ROWID""",
    # One row per (user, page), so remembering a page's order is one upsert, not a JSON rewrite.
    """CREATE TABLE IF NOT EXISTS last_orders (
        user_id TEXT NOT NULL, page TEXT NOT NULL, components TEXT NOT NULL,
        PRIMARY KEY (user_id, page)
    ) WITHOUT ROWID""",
)


def user_row(
    conn: sqlite3.Connection, user_id: str
) -> tuple[Settings | None, Affinity, float | None, float | None]:
    """(stored settings, affinity state, created, updated) of a user."""
    row = conn.execute(
        "SELECT settings, evidence, affinity_ts, last_event, created, updated "
        "FROM users WHERE user_id = ?",
        (user_id,),
    ).fetchone()
    scores = dict(conn.execute("SELECT key, score FROM affinities WHERE user_id = ?", (user_id,)))
    if row is None:
        return None, Affinity(scores), None, None
    settings = decode_settings(row[0]) if row[0] is not None else None
    return settings, Affinity(scores, row[1], row[2], row[3]), row[4], row[5]


def segments(conn: sqlite3.Connection, user_id: str) -> list[str]:
    rows = conn.execute("SELECT segment FROM segments WHERE user_id = ?", (user_id,))
    return [segment for (segment,) in rows]


def orders(conn: sqlite3.Connection, user_id: str) -> dict[str, list[str]]:
    rows = conn.execute("SELECT page, components FROM last_orders WHERE user_id = ?", (user_id,))
    return {page: decode_order(components) for page, components in rows}
