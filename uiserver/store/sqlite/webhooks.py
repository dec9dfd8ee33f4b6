"""The SQLite store's `WebhookStore`: one row per webhook, its cursor into the audit log and
its lease. `lease` and `progress` read, check (`store.hook_writes`) and write in one write
transaction, so two workers never both hold a hook."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import msgspec

from uiserver.store import hook_writes
from uiserver.store.base import Progress, Webhook
from uiserver.store.sqlite.database import Database

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS webhooks (
        id TEXT PRIMARY KEY, created REAL NOT NULL, record BLOB NOT NULL
    ) WITHOUT ROWID""",
)
_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(Webhook).decode


def _put(conn: sqlite3.Connection, hook: Webhook) -> None:
    conn.execute(
        "INSERT INTO webhooks (id, created, record) VALUES (?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET record = excluded.record",
        (hook.id, hook.created, _encode(hook)),
    )


class SQLiteWebhooks:
    """The `WebhookStore` of the SQLite store."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_hook(self, hook: Webhook) -> None:
        with self._db.tx(write=True) as conn:
            _put(conn, hook)

    async def hooks(self) -> list[Webhook]:
        rows = self._db.query("SELECT record FROM webhooks ORDER BY created, id", ())
        return [_decode(row[0]) for row in rows]

    async def delete_hook(self, hook_id: str) -> bool:
        with self._db.tx(write=True) as conn:
            return conn.execute("DELETE FROM webhooks WHERE id = ?", (hook_id,)).rowcount > 0

    def _update(self, hook_id: str, change: Callable[[Webhook], Webhook | None]) -> Webhook | None:
        with self._db.tx(write=True) as conn:
            row = conn.execute("SELECT record FROM webhooks WHERE id = ?", (hook_id,)).fetchone()
            changed = None if row is None else change(_decode(row[0]))
            if changed is not None:
                _put(conn, changed)
        return changed

    async def lease(self, hook_id: str, owner: str, now: float, ttl: float) -> Webhook | None:
        return self._update(hook_id, lambda h: hook_writes.leased(h, owner, now, ttl))

    async def progress(self, hook_id: str, owner: str, step: Progress) -> bool:
        changed = self._update(hook_id, lambda h: hook_writes.progressed(h, owner, step))
        return changed is not None
