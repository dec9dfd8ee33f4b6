"""The SQLite store's `ActivityStore`: activity counters and experiment counts, and their
statements (also called inside the users' own transactions).

Counters are one JSON column (`users.activity`) of the user's own row, so erasing the row erases
them. Experiment counts live in `experiment_days`, one row per (experiment, variant, day): a
HyperLogLog sketch of the exposed users (`sketch`, 16 KB, no user id inside), and
integers for converters, convert events and summed value. Its size is bounded by experiments x
variants x days, never by users.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence

from uiserver.engine.activity import (
    NEVER_SEEN,
    day_of,
    decode_activity,
    encode_activity,
    first_seen,
    record_events,
)
from uiserver.engine.affinity import EventLike
from uiserver.engine.readout import VariantCounts
from uiserver.schema import Activity
from uiserver.store._common import count_conversions, fold_activity
from uiserver.store.base import Conversion, Exposure, Invalidation
from uiserver.store.sqlite import erasure, sketch
from uiserver.store.sqlite.database import Database

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS experiment_days (
        experiment TEXT NOT NULL, variant TEXT NOT NULL, day INTEGER NOT NULL,
        exposures BLOB NOT NULL, converters INTEGER NOT NULL DEFAULT 0,
        converts INTEGER NOT NULL DEFAULT 0, value REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (experiment, variant, day)
    ) WITHOUT ROWID""",
)


def migrate(conn: sqlite3.Connection) -> None:
    """Add `users.activity` to a database made before counters existed (idempotent)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(users)")}
    if "activity" not in columns:
        conn.execute("ALTER TABLE users ADD COLUMN activity TEXT")


def read(conn: sqlite3.Connection, user_id: str) -> Activity | None:
    """The user's counters: empty ones for a user never stored (a first launch), None for a
    user stored before counters existed (nothing known yet)."""
    row = conn.execute("SELECT activity FROM users WHERE user_id = ?", (user_id,)).fetchone()
    if row is None:
        return NEVER_SEEN
    if row[0] is None:
        return None
    return decode_activity(row[0])


def _created_day(conn: sqlite3.Connection, user_id: str) -> int | None:
    row = conn.execute("SELECT created FROM users WHERE user_id = ?", (user_id,)).fetchone()
    return None if row is None or row[0] is None else day_of(row[0])


def write(conn: sqlite3.Connection, user_id: str, activity: Activity, now: float) -> None:
    conn.execute(
        "INSERT INTO users (user_id, activity, created, updated) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (user_id) DO UPDATE SET activity = excluded.activity",
        (user_id, encode_activity(activity).decode(), now, now),
    )


def fold_events(
    conn: sqlite3.Connection, user_id: str, events: Iterable[EventLike], now: float
) -> None:
    """The events' days and converts into the user's counters (same transaction as affinity)."""
    write(conn, user_id, record_events(read(conn, user_id), events, now), now)


def record(
    conn: sqlite3.Connection,
    launches: Mapping[str, tuple[int, int, int]],
    exposures: Sequence[Exposure],
    now: float,
) -> list[str]:
    """Launches and exposures; returns the users whose counters changed. Users erased since
    they were served (stale epoch) are skipped: nothing about them is written again."""

    def load(user_id: str) -> Activity | None:
        current = read(conn, user_id)
        if current is None:  # stored before counters: known since the row was created
            current = first_seen(_created_day(conn, user_id))
        return current

    changed = fold_activity(launches, exposures, lambda user_id: erasure.epoch(conn, user_id), load)
    for user_id, new in changed.items():
        if new is not None:
            write(conn, user_id, new, now)
    sketches: dict[tuple[str, str, int], list[str]] = {}
    for e in exposures:
        sketches.setdefault((e.experiment, e.variant, e.day), []).append(
            f"{e.experiment}\x1f{e.user_id}"
        )
    for (experiment, variant, day), items in sketches.items():
        row = conn.execute(
            "SELECT exposures FROM experiment_days WHERE experiment = ? AND variant = ? "
            "AND day = ?",
            (experiment, variant, day),
        ).fetchone()
        registers = bytearray(row[0]) if row is not None else sketch.empty()
        if sketch.add(registers, items) or row is None:
            conn.execute(
                "INSERT INTO experiment_days (experiment, variant, day, exposures) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (experiment, variant, day) DO UPDATE SET "
                "exposures = excluded.exposures",
                (experiment, variant, day, bytes(registers)),
            )
    return list(changed)


def convert(
    conn: sqlite3.Connection, user_id: str, conversions: Sequence[Conversion], now: float
) -> int:
    """Count the conversions of an exposed user; see `ActivityStore.record_conversions`."""
    activity = read(conn, user_id)
    if activity is None:
        return 0
    activity, counted = count_conversions(activity, conversions)
    for c, first in counted:
        conn.execute(
            "INSERT INTO experiment_days (experiment, variant, day, exposures, converters, "
            "converts, value) VALUES (?, ?, ?, ?, ?, 1, ?) "
            "ON CONFLICT (experiment, variant, day) DO UPDATE SET "
            "converters = converters + excluded.converters, converts = converts + 1, "
            "value = value + excluded.value",
            (c.experiment, c.variant, c.day, bytes(sketch.empty()), int(first), c.value),
        )
    if counted:
        write(conn, user_id, activity, now)
    return len(counted)


def counts(
    conn: sqlite3.Connection, experiment: str, variants: Sequence[str]
) -> list[VariantCounts]:
    out = []
    for variant in variants:
        rows = conn.execute(
            "SELECT day, exposures, converters, converts, value FROM experiment_days "
            "WHERE experiment = ? AND variant = ? ORDER BY day",
            (experiment, variant),
        ).fetchall()
        if not rows:
            out.append(VariantCounts(variant))
            continue
        out.append(
            VariantCounts(
                variant=variant,
                exposed=sketch.count(sketch.merge(row[1] for row in rows)),
                converters=sum(row[2] for row in rows),
                converts=sum(row[3] for row in rows),
                value=sum(row[4] for row in rows),
                first_day=rows[0][0],
                last_day=rows[-1][0],
            )
        )
    return out


class SQLiteActivity:
    """The `ActivityStore` of the SQLite store: counters in the users' rows, experiment counts
    in `experiment_days`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record_activity(
        self, launches: Mapping[str, tuple[int, int, int]], exposures: Sequence[Exposure]
    ) -> None:
        if not launches and not exposures:
            return
        now = time.time()
        with self._db.tx(write=True) as conn:
            users = record(conn, launches, exposures, now)
            changes = [Invalidation("user", user_id) for user_id in users]
            self._db.changes.append(conn, changes, now)
        self._db.listeners.emit(changes)

    async def record_conversions(self, user_id: str, conversions: Sequence[Conversion]) -> int:
        """No invalidation: which experiments a user converted in is no layout input."""
        if not conversions:
            return 0
        with self._db.tx(write=True) as conn:
            return convert(conn, user_id, conversions, time.time())

    async def experiment_counts(
        self, experiment: str, variants: Sequence[str]
    ) -> list[VariantCounts]:
        with self._db.tx(write=False) as conn:
            return counts(conn, experiment, variants)
