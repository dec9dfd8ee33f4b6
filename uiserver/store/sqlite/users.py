"""The SQLite store's `UserStore`: the user tables, the reads of one user's rows, and the writes.

Every per-user table has a `user_id` column: that is how erasure finds it (`erasure`), so a
per-user table added later is erased by construction. Name the column `user_id` in any new
per-user table (designers' drafts are keyed by `author`: they are console work, not data about
an app user).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence

import msgspec

from uiserver.engine.affinity import Affinity, fold
from uiserver.schema import Event, Profile, Settings
from uiserver.store._common import (
    decode_order,
    decode_settings,
    export_document,
    json_encode,
    last_assignments,
    user_invalidations,
)
from uiserver.store.base import (
    Attribution,
    Invalidation,
    SegmentInvalidation,
    ServedCheck,
    UserExport,
)
from uiserver.store.event_ids import Recorded, SeenIds, fresh
from uiserver.store.sqlite import activity, erasure, event_ids
from uiserver.store.sqlite.database import Database
from uiserver.store.sqlite.orders import GroupCommit
from uiserver.store.sqlite.profile import PROFILE_QUERY, profile_args, profile_from_rows

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

# A segment write of this many users or more runs in a thread (`put_segments`): a few
# milliseconds of statements, worth the ~100 us of the hop so the event loop stays free.
THREAD_BATCH = 200


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


class SQLiteUsers:
    """Settings, affinities, segments and last orders of users, in the shared database.

    A write takes the user's erasure epoch read when its request began and raises
    ErasedMeanwhile when the user was erased since (`erasure.check`, in the same transaction).
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._order_writes = GroupCommit(db.tx)

    async def get_profile(self, user_id: str) -> Profile:
        """One statement (`PROFILE_QUERY`), so one implicit read transaction: a consistent
        snapshot without BEGIN/COMMIT (a first launch's read was 7 statements)."""
        return profile_from_rows(user_id, self._db.query(PROFILE_QUERY, profile_args(user_id)))

    async def erasure_epoch(self, user_id: str) -> int:
        with self._db.tx(write=False) as conn:
            return erasure.epoch(conn, user_id)

    async def get_settings(self, user_id: str) -> Settings:
        with self._db.tx(write=False) as conn:
            row = conn.execute(
                "SELECT settings FROM users WHERE user_id = ?", (user_id,)
            ).fetchone()
        if row is None or row[0] is None:
            return Settings()
        return decode_settings(row[0])

    async def put_settings(
        self, user_id: str, settings: Settings, epoch: int | None = None
    ) -> None:
        await self.update_settings(user_id, lambda _: settings, epoch)

    async def update_settings(
        self, user_id: str, update: Callable[[Settings], Settings], epoch: int | None = None
    ) -> Settings:
        now = time.time()
        changes = [Invalidation("user", user_id)]
        with self._db.tx(write=True) as conn:
            erasure.check(conn, user_id, epoch)
            row = conn.execute(
                "SELECT settings FROM users WHERE user_id = ?", (user_id,)
            ).fetchone()
            current = Settings() if row is None or row[0] is None else decode_settings(row[0])
            settings = update(current)
            conn.execute(
                "INSERT INTO users (user_id, settings, created, updated) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET settings = excluded.settings, "
                "updated = excluded.updated",
                (user_id, json_encode(settings).decode(), now, now),
            )
            self._db.changes.append(conn, changes, now)
        self._db.listeners.emit(changes)
        return settings

    async def record_events(
        self, user_id: str, events: Sequence[Event], now: float, epoch: int | None = None
    ) -> int:
        return (await self.record_batch(user_id, events, now, epoch)).stored

    async def record_batch(
        self,
        user_id: str,
        events: Sequence[Event],
        now: float,
        epoch: int | None = None,
        conversions: Attribution | None = None,
        served: ServedCheck | None = None,
    ) -> Recorded:
        """Fold the batch's fresh events (ids not seen, `event_ids`) into the user's affinities
        and counters, remember their ids and count their conversions, in one transaction;
        nothing stored when personalization is off in the stored settings, whatever the caller
        checked (defence in depth)."""
        if not events:
            return Recorded()
        changes = [Invalidation("user", user_id)]
        with self._db.tx(write=True) as conn:
            erasure.check(conn, user_id, epoch)
            settings, state, _, _ = user_row(conn, user_id)
            if settings is not None and settings.personalization == 0:
                return Recorded()
            with_ids = any(e.id is not None for e in events)
            known = event_ids.read(conn, user_id, now) if with_ids else SeenIds(None, now)
            folded, new_ids = fresh(events, known)
            if not folded:
                return Recorded(duplicates=len(events))
            new = fold(state, folded, now)
            conn.execute("DELETE FROM affinities WHERE user_id = ?", (user_id,))
            conn.executemany(
                "INSERT INTO affinities (user_id, key, score) VALUES (?, ?, ?)",
                [(user_id, key, score) for key, score in new.scores.items()],
            )
            conn.execute(
                "INSERT INTO users (user_id, evidence, affinity_ts, last_event, created, updated) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
                "evidence = excluded.evidence, affinity_ts = excluded.affinity_ts, "
                "last_event = excluded.last_event, updated = excluded.updated",
                (user_id, new.evidence, new.updated, new.last_event, now, now),
            )
            counters = activity.fold_events(conn, user_id, folded, now)
            if new_ids:
                event_ids.write(conn, user_id, known.packed_with(new_ids, now))
            converts = [] if conversions is None else conversions(folded)
            counted = activity.convert(conn, user_id, converts, now) if converts else 0
            if served is not None and not served((state, counters[0]), (new, counters[1])):
                changes = []  # nothing a plan reads moved: no replica drops its profile
            if changes:
                self._db.changes.append(conn, changes, now)
        self._db.listeners.emit(changes)
        return Recorded(len(folded), len(events) - len(folded), counted)

    async def set_last_order(
        self, user_id: str, page: str, order: Sequence[str], epoch: int | None = None
    ) -> None:
        """No invalidation: the order served is a consequence of the cached layout, not an input
        that changes it, and invalidating here would make every cold serve drop its own entry.
        Unchanged orders are not rewritten. Launches' writes share transactions
        (`orders.GroupCommit`); this returns once the order is committed, and raises
        ErasedMeanwhile when the user was erased after `epoch` was read."""
        await self._order_writes.put(user_id, page, json_encode(list(order)).decode(), epoch)

    async def put_segments(
        self,
        assignments: Sequence[tuple[str, Sequence[str]]],
        invalidation: SegmentInvalidation = "users",
    ) -> int:
        """See `UserStore.put_segments`. A large batch is written in a thread: the event loop
        serves other requests meanwhile (the connection's lock still serialises store calls)."""
        mapping = last_assignments(assignments)
        changes = user_invalidations(list(mapping), invalidation)
        if not mapping and not changes:
            return 0
        now = time.time()
        if len(mapping) >= THREAD_BATCH:
            await asyncio.to_thread(self._put_segments, mapping, changes, now)
        else:
            self._put_segments(mapping, changes, now)
        self._db.listeners.emit(changes)
        return len(mapping)

    def _put_segments(
        self, mapping: dict[str, list[str]], changes: list[Invalidation], now: float
    ) -> None:
        with self._db.tx(write=True) as conn:
            conn.executemany(
                "DELETE FROM segments WHERE user_id = ?", [(user_id,) for user_id in mapping]
            )
            conn.executemany(
                "INSERT INTO segments (user_id, segment) VALUES (?, ?)",
                [(user_id, s) for user_id, segments in mapping.items() for s in segments],
            )
            if changes:
                self._db.changes.append(conn, changes, now)

    async def export_user(self, user_id: str) -> UserExport:
        with self._db.tx(write=False) as conn:
            settings, affinity, created, updated = user_row(conn, user_id)
            found = segments(conn, user_id)
            last = orders(conn, user_id)
            counters = activity.read(conn, user_id)
            seen = len(event_ids.read(conn, user_id, time.time()))
        data = export_document(user_id, settings, affinity, found, last, created, updated, counters)
        return msgspec.structs.replace(data, event_ids=seen)

    async def erase_user(self, user_id: str) -> None:
        """Delete every row about the user and move their erasure epoch on (`erasure`). Other
        processes get a notice that names nobody (they drop every cached profile: erasures are
        rare). Then the WAL is checkpointed and truncated."""
        now = time.time()
        self._order_writes.forget(user_id)  # a queued order must not outlive the erasure
        with self._db.tx(write=True) as conn:
            erasure.erase_rows(conn, user_id)
            self._db.changes.append_erased(conn, now)
        with self._db.lock:
            erasure.checkpoint(self._db.connection())
        self._db.listeners.emit([Invalidation("user", user_id)])
