"""The SQLite store's `CapabilityStore`: registered type lists, kill switches and launches per
renderer version a day (`engine.capability`). No user id in any of them."""

from __future__ import annotations

import time
from collections.abc import Mapping

import msgspec

from uiserver.engine.capability import KillSwitch
from uiserver.store.base import MAX_RENDERERS_A_DAY, MAX_TYPE_LISTS, Invalidation, RegistryFull
from uiserver.store.sqlite.database import Database

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS capability_types (
        digest TEXT PRIMARY KEY, types TEXT NOT NULL, created REAL NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS kill_switches (
        type TEXT PRIMARY KEY, switch BLOB NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS renderers_seen (
        day INTEGER NOT NULL, renderer TEXT NOT NULL, launches INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, renderer)
    ) WITHOUT ROWID""",
)
_encode = msgspec.json.Encoder().encode
_switch = msgspec.json.Decoder(KillSwitch).decode
_types = msgspec.json.Decoder(list[str]).decode


class SQLiteCapabilities:
    """The CapabilityStore half of SQLiteStore."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def register_types(self, digest: str, types: frozenset[str]) -> None:
        with self._db.tx(write=True) as conn:
            if conn.execute(
                "SELECT 1 FROM capability_types WHERE digest = ?", (digest,)
            ).fetchone():
                return
            (count,) = conn.execute("SELECT count(*) FROM capability_types").fetchone()
            if count >= MAX_TYPE_LISTS:
                raise RegistryFull(f"{MAX_TYPE_LISTS} type lists are registered already")
            conn.execute(
                "INSERT INTO capability_types (digest, types, created) VALUES (?, ?, ?)",
                (digest, _encode(sorted(types)).decode(), time.time()),
            )

    async def registered_types(self, digest: str) -> frozenset[str] | None:
        rows = self._db.query("SELECT types FROM capability_types WHERE digest = ?", (digest,))
        return frozenset(_types(rows[0][0])) if rows else None

    async def kill_switches(self) -> list[KillSwitch]:
        rows = self._db.query("SELECT switch FROM kill_switches ORDER BY type", ())
        return [_switch(row[0]) for row in rows]

    async def put_kill_switch(self, switch: KillSwitch) -> None:
        changes = [Invalidation("all")]
        now = time.time()
        with self._db.tx(write=True) as conn:
            conn.execute(
                "INSERT INTO kill_switches (type, switch) VALUES (?, ?) "
                "ON CONFLICT (type) DO UPDATE SET switch = excluded.switch",
                (switch.type, _encode(switch)),
            )
            self._db.changes.append(conn, changes, now)
        self._db.listeners.emit(changes)

    async def delete_kill_switch(self, type_name: str) -> bool:
        changes = [Invalidation("all")]
        with self._db.tx(write=True) as conn:
            gone = conn.execute("DELETE FROM kill_switches WHERE type = ?", (type_name,))
            if gone.rowcount == 0:
                return False
            self._db.changes.append(conn, changes, time.time())
        self._db.listeners.emit(changes)
        return True

    async def note_renderers(self, day: int, launches: Mapping[str, int]) -> None:
        if not launches:
            return
        with self._db.tx(write=True) as conn:
            known = {
                row[0]
                for row in conn.execute("SELECT renderer FROM renderers_seen WHERE day = ?", (day,))
            }
            for renderer, n in sorted(launches.items()):
                if renderer not in known and len(known) >= MAX_RENDERERS_A_DAY:
                    renderer = "other"
                known.add(renderer)
                conn.execute(
                    "INSERT INTO renderers_seen (day, renderer, launches) VALUES (?, ?, ?) "
                    "ON CONFLICT (day, renderer) DO UPDATE SET launches = launches + ?",
                    (day, renderer, n, n),
                )

    async def renderers(self, since_day: int) -> dict[str, int]:
        rows = self._db.query(
            "SELECT renderer, sum(launches) FROM renderers_seen WHERE day >= ? "
            "GROUP BY renderer ORDER BY renderer",
            (since_day,),
        )
        return {renderer: int(n) for renderer, n in rows}
