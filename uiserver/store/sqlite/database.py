"""One SQLite file in WAL mode: the connection, transactions, the change log and the listeners
that every role of the SQLite store shares.

Why synchronous calls inside `async def`: every statement touches a handful of rows of a local
file (tens of microseconds; WAL readers never wait for the writer), while a thread hop
(`asyncio.to_thread`) costs 50-100 us and would still serialise on the one connection. The only
blocking wait is another process holding the write lock; writes are single short transactions,
and `busy_timeout` bounds that wait (past it: `StoreUnavailable`).

Cross-process invalidation: every write that changes a layout input appends rows to the
`changes` log in its own transaction (`commit_changes`) and calls this process's listeners after
commit; `poll()` delivers other processes' rows (`changes.ChangeLog`).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from uiserver.store._common import Listeners, log
from uiserver.store.base import Invalidation, StoreUnavailable
from uiserver.store.sqlite.changes import ChangeLog

Migration = Callable[[sqlite3.Connection], None]


def unavailable(path: object, exc: sqlite3.Error) -> StoreUnavailable:
    """The StoreUnavailable for a failed SQLite call: kind `locked` when another writer held the
    database past `busy_timeout`, else `io` (disk full, I/O error, unreadable file)."""
    text = str(exc).lower()
    kind = "locked" if "locked" in text or "busy" in text else "io"
    return StoreUnavailable(f"sqlite {path}: {exc}", kind)


class Database:
    """The shared connection (opened, and the schema created, on first use).

    db = Database(path, schema, migrations)
    with db.tx(write=True) as conn:
        conn.execute(...)
        db.changes.append(conn, changes, now)
    db.listeners.emit(changes)
    """

    def __init__(
        self,
        path: Path,
        schema: Sequence[str],
        migrations: Sequence[Migration] = (),
        *,
        busy_timeout_ms: int = 2_000,
        poll_interval: float = 0.0,
        changes_keep: int = 10_000,
        changes_max_age: float = 3_600.0,
    ) -> None:
        self.path = Path(path)
        self.listeners = Listeners()
        self.changes = ChangeLog(changes_keep, changes_max_age)
        self._schema = tuple(schema)
        self._migrations = tuple(migrations)
        self._busy_timeout_ms = busy_timeout_ms
        self._poll_interval = poll_interval
        self._next_poll = 0.0
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()  # callers may share the store across threads

    @property
    def lock(self) -> threading.RLock:
        """Held around every use of the connection."""
        return self._lock

    def connection(self) -> sqlite3.Connection:
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
            for statement in self._schema:
                conn.execute(statement)
            for migrate in self._migrations:
                migrate(conn)
            self.changes.start(conn, time.time())
            conn.execute("COMMIT")
            self.changes.mark_read(conn)
        except sqlite3.OperationalError as exc:
            raise unavailable(self.path, exc) from exc
        return conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def ping(self) -> bool:
        try:
            with self._lock:
                self.connection().execute("SELECT 1").fetchone()
        except (sqlite3.Error, StoreUnavailable):
            return False
        return True

    @contextmanager
    def tx(self, write: bool) -> Iterator[sqlite3.Connection]:
        """One transaction: all of it commits, or nothing does (rollback on any error)."""
        with self._lock:
            conn = self.connection()
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
                raise unavailable(self.path, exc) from exc

    def query(self, statement: str, args: Sequence[Any]) -> list[Any]:
        """The rows of one statement in its own implicit read transaction (a consistent
        snapshot without BEGIN/COMMIT)."""
        with self._lock:
            conn = self.connection()
            try:
                return conn.execute(statement, args).fetchall()
            except sqlite3.OperationalError as exc:
                raise unavailable(self.path, exc) from exc

    def poll(self) -> None:
        """Deliver what other processes wrote since the last call; never raises (hot path).

        `poll_interval` (seconds) rate-limits the data_version check: 0 checks on every call
        (a write on another worker is seen by the next request); a few milliseconds trades
        that bound for ~3.5 us less per request."""
        if self._conn is None:
            return
        if self._poll_interval:
            now = time.monotonic()
            if now < self._next_poll:
                return
            self._next_poll = now + self._poll_interval
        try:
            with self._lock:
                if not self.changes.moved(self._conn):
                    return
                with self.tx(write=False) as conn:
                    invalidations: list[Invalidation] = self.changes.read(conn)
        except (sqlite3.Error, StoreUnavailable):
            log.exception("sqlite poll failed")
            return
        self.listeners.emit(invalidations, received=True)
