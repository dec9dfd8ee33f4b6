"""The SQLite store's `TelemetryStore`: one row per (page, version, component, mode) in
`telemetry`, an integer column per kind (`engine.telemetry.TELEMETRY_KINDS`). No user id: erasure
never looks here, and there is nothing about anyone to find."""

from __future__ import annotations

from collections.abc import Mapping

from uiserver.engine.telemetry import TELEMETRY_KINDS, ComponentCounts, CounterKey
from uiserver.store.sqlite.database import Database

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS telemetry (
        page TEXT NOT NULL, version TEXT NOT NULL, component TEXT NOT NULL, mode TEXT NOT NULL,
        impression INTEGER NOT NULL DEFAULT 0, click INTEGER NOT NULL DEFAULT 0,
        render_error INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (page, version, component, mode)
    ) WITHOUT ROWID""",
)

# One statement per kind: the column name comes from this table, never from input.
_ADD = {
    kind: f"INSERT INTO telemetry (page, version, component, mode, {kind}) "
    f"VALUES (?, ?, ?, ?, ?) ON CONFLICT (page, version, component, mode) "
    f"DO UPDATE SET {kind} = {kind} + excluded.{kind}"
    for kind in TELEMETRY_KINDS
}


class SQLiteTelemetry:
    """The TelemetryStore half of SQLiteStore."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_counts(self, counts: Mapping[CounterKey, int]) -> None:
        if not counts:
            return
        with self._db.tx(write=True) as conn:
            for key, n in sorted(counts.items()):
                conn.execute(_ADD[key.kind], (key.page, key.version, key.component, key.mode, n))

    async def component_counts(
        self, page: str, version: str | None = None
    ) -> list[ComponentCounts]:
        where, args = (
            ("page = ?", [page])
            if version is None
            else (
                "page = ? AND version = ?",
                [page, version],
            )
        )
        found = self._db.query(
            "SELECT version, component, mode, impression, click, render_error FROM telemetry "
            f"WHERE {where} ORDER BY version, component, mode",
            args,
        )
        return [ComponentCounts(page, v, c, m, i, k, e) for v, c, m, i, k, e in found]
