"""The SQLite store's `ActivityStore`: activity counters and experiment counts, and their
statements (also called inside the users' own transactions).

Counters are one JSON column (`users.activity`) of the user's own row, so erasing the row erases
them. Experiment counts live in `experiment_days`, one row per (experiment, variant, day): a
HyperLogLog sketch of the exposed users (`sketch`, 16 KB, no user id inside), and
integers for converters, convert events and summed value. Its size is bounded by experiments x
variants x days, never by users.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec

from uiserver.engine.activity import (
    COHORTS,
    NEVER_SEEN,
    Tally,
    day_of,
    decode_activity,
    encode_activity,
    first_seen,
    in_cohort,
    record_events,
)
from uiserver.engine.affinity import EventLike
from uiserver.engine.readout import VariantCounts
from uiserver.schema import Activity
from uiserver.store._common import count_conversions, fold_activity, merge_tallies
from uiserver.store.base import Conversion, Exposure, Invalidation
from uiserver.store.sqlite import erasure, sketch
from uiserver.store.sqlite.database import Database, unavailable

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS experiment_days (
        experiment TEXT NOT NULL, variant TEXT NOT NULL, day INTEGER NOT NULL,
        exposures BLOB NOT NULL, converters INTEGER NOT NULL DEFAULT 0,
        converts INTEGER NOT NULL DEFAULT 0, value REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (experiment, variant, day)
    ) WITHOUT ROWID""",
    # Exact counts (`engine.activity.Tally`), one row per (experiment, variant, day, cohort).
    """CREATE TABLE IF NOT EXISTS experiment_cohorts (
        experiment TEXT NOT NULL, variant TEXT NOT NULL, day INTEGER NOT NULL,
        cohort TEXT NOT NULL, exposed INTEGER NOT NULL DEFAULT 0,
        converters INTEGER NOT NULL DEFAULT 0, converts INTEGER NOT NULL DEFAULT 0,
        value REAL NOT NULL DEFAULT 0, multi INTEGER NOT NULL DEFAULT 0,
        switched INTEGER NOT NULL DEFAULT 0, early INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (experiment, variant, day, cohort)
    ) WITHOUT ROWID""",
    # Users with personalization off: no marker, so a sketch over the experiment's life.
    """CREATE TABLE IF NOT EXISTS experiment_off (
        experiment TEXT NOT NULL, variant TEXT NOT NULL, sketch BLOB NOT NULL,
        PRIMARY KEY (experiment, variant)
    ) WITHOUT ROWID""",
)

# Per experiment: `version` changes with every count written (the readout cache's key), and
# `legacy` = 1 for an experiment with counts from before exact counting (its exposures are the
# sketches' estimate).
META = """CREATE TABLE experiment_meta (
    experiment TEXT PRIMARY KEY, version INTEGER NOT NULL DEFAULT 0,
    legacy INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID"""

COHORT_COLUMNS = ("exposed", "converters", "converts", "value", "multi", "switched", "early")


def migrate(conn: sqlite3.Connection) -> None:
    """Add `users.activity` to a database made before counters existed, and `experiment_meta`
    to one made before exact counts (its experiments marked legacy). Idempotent."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(users)")}
    if "activity" not in columns:
        conn.execute("ALTER TABLE users ADD COLUMN activity TEXT")
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'experiment_meta'"
    ).fetchone()
    if found is None:
        conn.execute(META)
        conn.execute(
            "INSERT INTO experiment_meta (experiment, version, legacy) "
            "SELECT DISTINCT experiment, 1, 1 FROM experiment_days"
        )


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
    conn.execute(_WRITE, (user_id, encode_activity(activity).decode(), now, now))


def fold_events(
    conn: sqlite3.Connection, user_id: str, events: Iterable[EventLike], now: float
) -> tuple[Activity | None, Activity]:
    """The events' days and converts into the user's counters (same transaction as affinity);
    returns the counters before and after."""
    before = read(conn, user_id)
    after = record_events(before, events, now)
    write(conn, user_id, after, now)
    return before, after


def read_many(conn: sqlite3.Connection, user_ids: Sequence[str]) -> dict[str, Activity]:
    """The counters of many users, `erasure.READ_CHUNK` a statement: as `read`, and for a row
    stored before counters existed, `first_seen` of the row's creation day."""
    found: dict[str, tuple[str | None, float | None]] = {}
    for chunk in erasure.chunks(user_ids):
        for user_id, text, created in conn.execute(_READ_MANY, chunk):
            found[user_id] = (text, created)
    out: dict[str, Activity] = {}
    for user_id in user_ids:
        row = found.get(user_id)
        if row is None:
            out[user_id] = NEVER_SEEN
        elif row[0] is None:  # stored before counters: known since the row was created
            out[user_id] = first_seen(None if row[1] is None else day_of(row[1]))
        else:
            out[user_id] = decode_activity(row[0])
    return out


_READ_MANY = (
    "SELECT user_id, activity, created FROM users "
    f"WHERE user_id IN ({', '.join('?' * erasure.READ_CHUNK)})"
)
_WRITE = (
    "INSERT INTO users (user_id, activity, created, updated) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (user_id) DO UPDATE SET activity = excluded.activity"
)


def record(
    conn: sqlite3.Connection,
    launches: Mapping[str, tuple[int, int, int]],
    exposures: Sequence[Exposure],
    now: float,
) -> list[str]:
    """Launches and exposures; returns the users to invalidate (`store._common.fold_activity`:
    counters written but moving nothing a plan reads invalidate nobody). Users erased since
    they were served (stale epoch) are skipped: nothing about them is written again.

    The users' epochs and counters are read for the whole batch first (a few statements, not
    three per user: a launch write was ~60 us a user), the new counters written with one
    `executemany`; all inside the caller's write transaction, as before."""
    users = list(dict.fromkeys([*launches, *(e.user_id for e in exposures if e.mark)]))
    epochs = erasure.epochs(conn, users)
    stored = read_many(conn, users)
    changed, invalidate, tallies = fold_activity(
        launches, exposures, epochs.__getitem__, stored.get, now
    )
    conn.executemany(
        _WRITE,
        [
            (user_id, encode_activity(new).decode(), now, now)
            for user_id, new in changed.items()
            if new is not None
        ],
    )
    sketches: dict[tuple[str, str, int], list[str]] = {}
    off: dict[tuple[str, str], list[str]] = {}
    for e in exposures:
        item = f"{e.experiment}\x1f{e.user_id}"
        sketches.setdefault((e.experiment, e.variant, e.day), []).append(item)
        if not e.mark:
            off.setdefault((e.experiment, e.variant), []).append(item)
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
    for (experiment, variant), items in off.items():
        row = conn.execute(
            "SELECT sketch FROM experiment_off WHERE experiment = ? AND variant = ?",
            (experiment, variant),
        ).fetchone()
        registers = bytearray(row[0]) if row is not None else sketch.empty()
        if sketch.add(registers, items) or row is None:
            conn.execute(
                "INSERT INTO experiment_off VALUES (?, ?, ?) ON CONFLICT (experiment, variant) "
                "DO UPDATE SET sketch = excluded.sketch",
                (experiment, variant, bytes(registers)),
            )
    add_tallies(conn, tallies)
    bump(conn, {e.experiment for e in exposures})
    return invalidate


def bump(conn: sqlite3.Connection, experiments: Iterable[str]) -> None:
    """New counts of `experiments`: their data version moves (readouts cached under the old one
    are stale). An experiment first seen here counts exactly from its start (not legacy)."""
    for experiment in sorted(experiments):
        conn.execute(
            "INSERT INTO experiment_meta (experiment, version, legacy) VALUES (?, 1, 0) "
            "ON CONFLICT (experiment) DO UPDATE SET version = version + 1",
            (experiment,),
        )


def add_tallies(conn: sqlite3.Connection, tallies: Iterable[Tally]) -> None:
    """Add exact counts to their (experiment, variant, day, cohort) rows, and conversions also
    to the all-users row of `experiment_days` (what a legacy experiment's readout reads)."""
    for t in merge_tallies(tallies):
        conn.execute(
            "INSERT INTO experiment_cohorts (experiment, variant, day, cohort, exposed, "
            "converters, converts, value, multi, switched, early) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (experiment, variant, day, cohort) DO UPDATE SET "
            "exposed = exposed + excluded.exposed, converters = converters + excluded.converters, "
            "converts = converts + excluded.converts, value = value + excluded.value, "
            "multi = multi + excluded.multi, switched = switched + excluded.switched, "
            "early = early + excluded.early",
            (
                t.experiment,
                t.variant,
                t.day,
                t.cohort,
                t.exposed,
                t.converters,
                t.converts,
                t.value,
                t.multi,
                t.switched,
                t.early,
            ),
        )
        if t.converts:
            conn.execute(
                "INSERT INTO experiment_days (experiment, variant, day, exposures, converters, "
                "converts, value) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (experiment, variant, day) DO UPDATE SET "
                "converters = converters + excluded.converters, "
                "converts = converts + excluded.converts, value = value + excluded.value",
                (
                    t.experiment,
                    t.variant,
                    t.day,
                    bytes(sketch.empty()),
                    t.converters,
                    t.converts,
                    t.value,
                ),
            )


def convert(
    conn: sqlite3.Connection, user_id: str, conversions: Sequence[Conversion], now: float
) -> int:
    """Attribute the conversions of a user; see `ActivityStore.record_conversions`."""
    stored = read(conn, user_id)
    activity = stored if stored is not None else first_seen(_created_day(conn, user_id))
    new, tallies, counted = count_conversions(activity, conversions, now)
    if new != activity:
        write(conn, user_id, new, now)
    if tallies:
        add_tallies(conn, tallies)
        bump(conn, {t.experiment for t in tallies})
    return counted


def version(conn: sqlite3.Connection, experiment: str) -> int:
    row = conn.execute(
        "SELECT version FROM experiment_meta WHERE experiment = ?", (experiment,)
    ).fetchone()
    return 0 if row is None else int(row[0])


class Rollups:
    """Merged sketches of each (experiment, variant)'s past days, kept per process: a day
    older than yesterday gets no more exposures (they are written for the day served), so its
    sketch is merged once, not on every readout."""

    def __init__(self) -> None:
        self._merged: dict[tuple[str, str], tuple[int, bytearray]] = {}
        self._lock = threading.Lock()

    def union(self, experiment: str, variant: str, rows: Sequence[tuple[int, bytes]]) -> int:
        """The distinct users of the sketches `rows` ((day, sketch) by day) estimated."""
        frozen = day_of(time.time()) - 2  # days up to this one no longer change
        with self._lock:
            through, merged = self._merged.get((experiment, variant), (-1, sketch.empty()))
            old = [blob for day, blob in rows if through < day <= frozen]
            if old:
                merged = sketch.merge([bytes(merged), *old])
                through = max(day for day, _ in rows if day <= frozen)
                self._merged[experiment, variant] = (through, merged)
        recent = [blob for day, blob in rows if day > through]
        return sketch.count(sketch.merge([bytes(merged), *recent]) if recent else merged)


def counts(
    conn: sqlite3.Connection,
    experiment: str,
    variants: Sequence[str],
    cohort: str | None,
    rollups: Rollups,
) -> list[VariantCounts]:
    """Each variant's counts: exact sums of `experiment_cohorts` (plus the estimate of the
    personalization-off sketch), or for a legacy experiment the day sketches' union (`exact`
    False). A cohort's counts are the exact rows of its cells only."""
    meta = conn.execute(
        "SELECT legacy FROM experiment_meta WHERE experiment = ?", (experiment,)
    ).fetchone()
    legacy = meta is not None and bool(meta[0])
    return [_variant_counts(conn, experiment, v, cohort, legacy, rollups) for v in variants]


def _variant_counts(
    conn: sqlite3.Connection,
    experiment: str,
    variant: str,
    cohort: str | None,
    legacy: bool,
    rollups: Rollups,
) -> VariantCounts:
    sums = _exact_sums(conn, experiment, variant, cohort)
    found = VariantCounts(
        variant=variant,
        exposed=int(sums["exposed"]),
        converters=int(sums["converters"]),
        converts=int(sums["converts"]),
        value=float(sums["value"]),
        first_day=sums["first_day"],
        last_day=sums["last_day"],
        exact=not legacy,
        multi=int(sums["multi"]),
        switched=int(sums["switched"]),
        early=int(sums["early"]),
    )
    if cohort is not None:
        return found
    # Key columns only: the integers sit after the 16 KB sketch in each row (overflow pages).
    first_day, last_day = conn.execute(
        "SELECT min(day), max(day) FROM experiment_days WHERE experiment = ? AND variant = ?",
        (experiment, variant),
    ).fetchone()
    if legacy:  # counted by sketch before exact counts: the sketches' union for everyone
        converters, converts, value = conn.execute(
            "SELECT coalesce(sum(converters), 0), coalesce(sum(converts), 0), "
            "coalesce(sum(value), 0) FROM experiment_days WHERE experiment = ? AND variant = ?",
            (experiment, variant),
        ).fetchone()
        return msgspec.structs.replace(
            found,
            exposed=_legacy_exposed(conn, experiment, variant, rollups),
            converters=int(converters),
            converts=int(converts),
            value=float(value),
            first_day=first_day,
            last_day=last_day,
        )
    off = conn.execute(
        "SELECT sketch FROM experiment_off WHERE experiment = ? AND variant = ?",
        (experiment, variant),
    ).fetchone()
    estimate = 0 if off is None else sketch.count(off[0])
    return msgspec.structs.replace(
        found,
        exposed=found.exposed + estimate,
        first_day=first_day,
        last_day=last_day,
        exact=estimate == 0,
        estimated=estimate or None,
    )


def _exact_sums(
    conn: sqlite3.Connection, experiment: str, variant: str, cohort: str | None
) -> dict[str, Any]:
    cells = [c for c in (*COHORTS, "") if in_cohort(c, cohort)] if cohort is not None else None
    where = "experiment = ? AND variant = ?"
    args: list[object] = [experiment, variant]
    if cells is not None:
        where += f" AND cohort IN ({', '.join('?' * len(cells))})"
        args.extend(cells)
    sums = ", ".join(f"coalesce(sum({c}), 0)" for c in COHORT_COLUMNS)
    row = conn.execute(
        f"SELECT {sums}, min(day), max(day) FROM experiment_cohorts WHERE {where}", args
    ).fetchone()
    return dict(zip((*COHORT_COLUMNS, "first_day", "last_day"), row, strict=True))


def _legacy_exposed(
    conn: sqlite3.Connection, experiment: str, variant: str, rollups: Rollups
) -> int:
    rows = conn.execute(
        "SELECT day, exposures FROM experiment_days WHERE experiment = ? AND variant = ? "
        "ORDER BY day",
        (experiment, variant),
    ).fetchall()
    return rollups.union(experiment, variant, rows)


class SQLiteActivity:
    """The `ActivityStore` of the SQLite store: counters in the users' rows, experiment counts
    in `experiment_cohorts` (exact), `experiment_days` (sketches) and `experiment_meta`.

    Readouts run in a worker thread on their own read-only connection (WAL: a reader never
    waits for the writer, and the event loop never waits for the readout)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._rollups = Rollups()

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

    async def experiment_version(self, experiment: str) -> int:
        with self._db.tx(write=False) as conn:
            return version(conn, experiment)

    async def experiment_counts(
        self, experiment: str, variants: Sequence[str], cohort: str | None = None
    ) -> list[VariantCounts]:
        self._db.connection()  # opened (schema and migrations applied) before the thread reads
        if str(self._db.path) == ":memory:":  # one connection only: read it here
            with self._db.tx(write=False) as conn:
                return counts(conn, experiment, variants, cohort, self._rollups)
        return await asyncio.to_thread(self._read_counts, experiment, list(variants), cohort)

    def _read_counts(
        self, experiment: str, variants: list[str], cohort: str | None
    ) -> list[VariantCounts]:
        try:
            conn = sqlite3.connect(
                f"file:{self._db.path}?mode=ro", uri=True, timeout=2.0, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise unavailable(self._db.path, exc) from exc
        try:
            conn.execute("BEGIN")
            return counts(conn, experiment, variants, cohort, self._rollups)
        except sqlite3.OperationalError as exc:
            raise unavailable(self._db.path, exc) from exc
        finally:
            conn.close()
