"""The embedded store: one SQLite file in WAL mode, shared by every worker process on the host.

Why synchronous calls inside `async def`: every statement here touches a handful of rows of a
local file (tens of microseconds; WAL readers never wait for the writer), while a thread hop
(`asyncio.to_thread`) costs 50-100 us and would still serialise on the one connection. The only
blocking wait is another process holding the write lock; writes are single short transactions,
and `busy_timeout` bounds that wait (past it: `StoreUnavailable`).

Cross-process invalidation: every write that changes a layout input appends rows to the `changes`
log in its own transaction and calls this process's listeners after commit; `poll()` delivers
other processes' rows (see `sqlite_changes`). Template history statements: `sqlite_templates`.

Erasure (`sqlite_erasure`): every table with a `user_id` column, the change log's rows naming
the user, an epoch that refuses stale writes, `secure_delete`, a WAL checkpoint.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from uiserver.engine.affinity import fold
from uiserver.schema import Event, Profile, Settings
from uiserver.store._common import (
    Listeners,
    decode_settings,
    export_document,
    json_encode,
    last_assignments,
    log,
    user_invalidations,
)
from uiserver.store.base import (
    Archived,
    Invalidation,
    Listener,
    PageState,
    PublishOptions,
    Rollout,
    StoreUnavailable,
    TemplateRecord,
    UserExport,
)
from uiserver.store.sqlite import activity as sqlite_activity
from uiserver.store.sqlite import changes as sqlite_changes
from uiserver.store.sqlite import drafts as sqlite_drafts
from uiserver.store.sqlite import erasure as sqlite_erasure
from uiserver.store.sqlite import templates as sqlite_templates
from uiserver.store.sqlite import users as sqlite_users
from uiserver.store.sqlite.changes import ChangeLog
from uiserver.store.sqlite.orders import GroupCommit
from uiserver.store.sqlite.profile import PROFILE_QUERY, profile_args, profile_from_rows
from uiserver.store.template_writes import (
    Writes,
    plan_archive,
    plan_end,
    plan_percent,
    plan_publish,
)

SCHEMA = (
    *sqlite_users.SCHEMA,
    *sqlite_activity.SCHEMA,
    *sqlite_templates.SCHEMA,
    *sqlite_changes.SCHEMA,
    *sqlite_erasure.SCHEMA,
    *sqlite_drafts.SCHEMA,
)

# Every table with a `user_id` column holds rows about a user: erase_user empties each of them,
# found from the schema itself (`sqlite_erasure`), so a per-user table added later is erased by
# construction. Name the column `user_id` in any new per-user table (designers' drafts are
# keyed by `author`: they are console work, not data about an app user).


class SQLiteStore(sqlite_activity.ActivityMixin, sqlite_drafts.SQLiteDrafts):
    """The default store: a single file, no services needed.

    Usage:
        store = SQLiteStore(Path(".uiserver/uiserver.db"))
        await store.open()
        store.add_listener(cache.invalidate)
        profile = await store.get_profile("u1")

    `poll_interval` (seconds) rate-limits `poll()`'s data_version check: 0 checks on every call
    (a write on another worker is seen by the next request); a few milliseconds trades that
    bound for ~3.5 us less per request.
    """

    def __init__(
        self,
        path: Path,
        *,
        busy_timeout_ms: int = 2_000,
        poll_interval: float = 0.0,
        changes_keep: int = 10_000,
        changes_max_age: float = 3_600.0,
    ) -> None:
        self.path = Path(path)
        self._busy_timeout_ms = busy_timeout_ms
        self._poll_interval = poll_interval
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()  # callers may share the store across threads
        self._listeners = Listeners()
        self._changes = ChangeLog(changes_keep, changes_max_age)
        self._next_poll = 0.0
        self._order_writes = GroupCommit(self._tx)

    # ------------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        self._connection()

    async def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    async def ping(self) -> bool:
        try:
            with self._lock:
                self._connection().execute("SELECT 1").fetchone()
        except (sqlite3.Error, StoreUnavailable):
            return False
        return True

    def _connection(self) -> sqlite3.Connection:
        """The connection, opened (and the schema created) on first use."""
        if self._conn is None:
            with self._lock:
                if self._conn is None:
                    self._conn = self._connect()
        return self._conn

    def _connect(self) -> sqlite3.Connection:
        try:
            if str(self.path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path,
                isolation_level=None,
                check_same_thread=False,
                timeout=self._busy_timeout_ms / 1000,
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
            # Deleted content is overwritten with zeros, on every page (erasure leaves nothing).
            conn.execute("PRAGMA secure_delete=ON")
            conn.execute("BEGIN IMMEDIATE")
            for statement in SCHEMA:
                conn.execute(statement)
            sqlite_activity.migrate(conn)
            sqlite_templates.migrate(conn)
            self._changes.start(conn, time.time())
            conn.execute("COMMIT")
            self._changes.mark_read(conn)
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"sqlite {self.path}: {exc}") from exc
        return conn

    @contextmanager
    def _tx(self, write: bool) -> Iterator[sqlite3.Connection]:
        """One transaction: all of it commits, or nothing does (rollback on any error)."""
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:  # locked past busy_timeout, disk full, I/O
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise StoreUnavailable(f"sqlite {self.path}: {exc}") from exc

    # ------------------------------------------------------------------ invalidation

    def add_listener(self, listener: Listener) -> None:
        self._listeners.add(listener)

    @property
    def subscribed(self) -> bool:
        """Always: other processes' changes are read from the file by `poll()`."""
        return True

    def poll(self) -> None:
        """Deliver what other processes wrote since the last call; never raises (hot path)."""
        if self._conn is None:
            return
        if self._poll_interval:
            now = time.monotonic()
            if now < self._next_poll:
                return
            self._next_poll = now + self._poll_interval
        try:
            with self._lock:
                if not self._changes.moved(self._conn):
                    return
                with self._tx(write=False) as conn:
                    invalidations = self._changes.read(conn)
        except (sqlite3.Error, StoreUnavailable):
            log.exception("sqlite poll failed")
            return
        self._listeners.emit(invalidations)

    # ------------------------------------------------------------------ users

    async def get_profile(self, user_id: str) -> Profile:
        """One statement (`PROFILE_QUERY`), so one implicit read transaction: a consistent
        snapshot without BEGIN/COMMIT (a first launch's read was 7 statements)."""
        with self._lock:
            conn = self._connection()
            try:
                rows = conn.execute(PROFILE_QUERY, profile_args(user_id)).fetchall()
            except sqlite3.OperationalError as exc:
                raise StoreUnavailable(f"sqlite {self.path}: {exc}") from exc
        return profile_from_rows(user_id, rows)

    async def erasure_epoch(self, user_id: str) -> int:
        with self._tx(write=False) as conn:
            return sqlite_erasure.epoch(conn, user_id)

    async def get_settings(self, user_id: str) -> Settings:
        with self._tx(write=False) as conn:
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
        with self._tx(write=True) as conn:
            sqlite_erasure.check(conn, user_id, epoch)
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
            self._changes.append(conn, changes, now)
        self._listeners.emit(changes)
        return settings

    async def record_events(
        self, user_id: str, events: Sequence[Event], now: float, epoch: int | None = None
    ) -> int:
        """Fold the batch into the user's affinities; 0 (nothing stored) when personalization
        is off in the stored settings, whatever the caller checked (defence in depth)."""
        if not events:
            return 0
        changes = [Invalidation("user", user_id)]
        with self._tx(write=True) as conn:
            sqlite_erasure.check(conn, user_id, epoch)
            settings, state, _, _ = sqlite_users.user_row(conn, user_id)
            if settings is not None and settings.personalization == 0:
                return 0
            new = fold(state, events, now)
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
            sqlite_activity.fold_events(conn, user_id, events, now)
            self._changes.append(conn, changes, now)
        self._listeners.emit(changes)
        return len(events)

    async def set_last_order(
        self, user_id: str, page: str, order: Sequence[str], epoch: int | None = None
    ) -> None:
        """No invalidation: the order served is a consequence of the cached layout, not an input
        that changes it, and invalidating here would make every cold serve drop its own entry.
        Unchanged orders are not rewritten. Launches' writes share transactions
        (`sqlite_orders.GroupCommit`); this returns once the order is committed, and raises
        ErasedMeanwhile when the user was erased after `epoch` was read."""
        await self._order_writes.put(user_id, page, json_encode(list(order)).decode(), epoch)

    async def put_segments(self, assignments: Sequence[tuple[str, Sequence[str]]]) -> int:
        mapping = last_assignments(assignments)
        if not mapping:
            return 0
        now = time.time()
        changes = user_invalidations(list(mapping))
        with self._tx(write=True) as conn:
            conn.executemany(
                "DELETE FROM segments WHERE user_id = ?", [(user_id,) for user_id in mapping]
            )
            conn.executemany(
                "INSERT INTO segments (user_id, segment) VALUES (?, ?)",
                [(user_id, s) for user_id, segments in mapping.items() for s in segments],
            )
            self._changes.append(conn, changes, now)
        self._listeners.emit(changes)
        return len(mapping)

    async def export_user(self, user_id: str) -> UserExport:
        with self._tx(write=False) as conn:
            settings, affinity, created, updated = sqlite_users.user_row(conn, user_id)
            segments = sqlite_users.segments(conn, user_id)
            orders = sqlite_users.orders(conn, user_id)
            activity = sqlite_activity.read(conn, user_id)
        return export_document(
            user_id, settings, affinity, segments, orders, created, updated, activity
        )

    async def erase_user(self, user_id: str) -> None:
        """Delete every row about the user and move their erasure epoch on (see
        `sqlite_erasure`). Other processes get a notice that names nobody (they drop every
        cached profile: erasures are rare). Then the WAL is checkpointed and truncated."""
        now = time.time()
        self._order_writes.forget(user_id)  # a queued order must not outlive the erasure
        with self._tx(write=True) as conn:
            sqlite_erasure.erase_rows(conn, user_id)
            self._changes.append_erased(conn, now)
        with self._lock:
            sqlite_erasure.checkpoint(self._connection())
        self._listeners.emit([Invalidation("user", user_id)])

    # ------------------------------------------------------------------ templates

    async def publish(
        self,
        page: str,
        version: str,
        document: bytes,
        author: str,
        message: str,
        now: float,
        options: PublishOptions | None = None,
    ) -> TemplateRecord:
        """Append `version` to the page's history and make it live (see `TemplateStore`).

        Publishing the version that is already live returns the live record unchanged (no new
        history entry, no invalidation), so retries are idempotent. Publishing an older version
        again (rollback) appends a new entry with a new seq. Versions are immutable: a known
        version with a different document raises ValueError and changes nothing. The checks of
        `options` run inside the same `BEGIN IMMEDIATE` transaction as the write: two
        processes publishing on the same base cannot both pass.
        """

        def plan(conn: sqlite3.Connection, state: PageState | None) -> Writes:
            earlier = sqlite_templates.newest_of_version(conn, page, version)
            return plan_publish(
                page, version, document, author, message, now, options, state, earlier
            )

        return (await self._template_write(page, now, plan)).result

    async def _template_write(
        self,
        page: str,
        now: float,
        plan: Callable[[sqlite3.Connection, PageState | None], Writes],
    ) -> Writes:
        """Read the page's state, plan, write and invalidate, in one write transaction."""
        changes = [Invalidation("template", page)]
        with self._tx(write=True) as conn:
            writes = plan(conn, sqlite_templates.states(conn, page).get(page))
            if writes.changed:
                sqlite_templates.apply(conn, page, writes)
                self._changes.append(conn, changes, now)
        if writes.changed:
            self._listeners.emit(changes)
        return writes

    async def set_rollout(self, page: str, percent: int, author: str, now: float) -> Rollout:
        def plan(conn: sqlite3.Connection, state: PageState | None) -> Writes:
            rollout = plan_percent(page, percent, now, state)
            assert state is not None
            return Writes(state.head, rollout=rollout)

        writes = await self._template_write(page, now, plan)
        assert isinstance(writes.rollout, Rollout)
        return writes.rollout

    async def end_rollout(
        self, page: str, outcome: Literal["promote", "abort"], author: str, now: float
    ) -> TemplateRecord:
        writes = await self._template_write(
            page, now, lambda conn, state: plan_end(page, outcome, author, now, state)
        )
        return writes.result

    async def archive(self, page: str, author: str, now: float) -> Archived:
        await self._template_write(
            page, now, lambda conn, state: plan_archive(page, author, now, state)
        )
        with self._tx(write=False) as conn:
            archived = sqlite_templates.states(conn, page)[page].archived
        assert archived is not None
        return archived

    async def states(self, page: str | None = None) -> dict[str, PageState]:
        with self._tx(write=False) as conn:
            return sqlite_templates.states(conn, page)

    async def live(self) -> dict[str, TemplateRecord]:
        with self._tx(write=False) as conn:
            return sqlite_templates.all_live(conn)

    async def live_template(self, page: str) -> TemplateRecord | None:
        with self._tx(write=False) as conn:
            return sqlite_templates.live(conn, page)

    async def get_version(self, page: str, version: str) -> TemplateRecord | None:
        """The newest history entry of that version (a rollback repeats a version)."""
        with self._tx(write=False) as conn:
            return sqlite_templates.newest_of_version(conn, page, version)

    async def history(self, page: str) -> list[TemplateRecord]:
        with self._tx(write=False) as conn:
            return sqlite_templates.history(conn, page)
