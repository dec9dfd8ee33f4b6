"""The SQLite store's `TemplateStore`: the template history, its statements and its writes.

`templates` is append-only; the live version of a page is its highest seq. `rollouts` holds
the running staged rollout of a page (at most one), `archived` the pages taken down. Writes are
decided by `template_writes` and applied here by `apply`, inside the caller's transaction.
`audited(hook)` is the store whose writes append the hook's audit entry in the same
transaction (both or neither: `store.base.AtomicAuditTemplates`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, Literal

from uiserver.store.allocations import needs_history
from uiserver.store.base import (
    Archived,
    AuditEntry,
    AuditHook,
    Invalidation,
    PageState,
    PublishOptions,
    Rollout,
    TemplateRecord,
)
from uiserver.store.sqlite.audit import insert as insert_audit
from uiserver.store.sqlite.database import Database
from uiserver.store.template_writes import (
    UNCHANGED,
    Writes,
    plan_archive,
    plan_end,
    plan_percent,
    plan_publish,
)

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS templates (
        page TEXT NOT NULL, seq INTEGER NOT NULL, version TEXT NOT NULL, document BLOB NOT NULL,
        author TEXT NOT NULL, message TEXT NOT NULL, created REAL NOT NULL,
        PRIMARY KEY (page, seq)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS templates_by_version ON templates (page, version, seq)",
    """CREATE TABLE IF NOT EXISTS rollouts (
        page TEXT PRIMARY KEY, version TEXT NOT NULL, previous TEXT NOT NULL,
        percent INTEGER NOT NULL, author TEXT NOT NULL, started REAL NOT NULL,
        updated REAL NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS archived (
        page TEXT PRIMARY KEY, author TEXT NOT NULL, created REAL NOT NULL
    ) WITHOUT ROWID""",
)
COLUMNS = "page, version, document, author, message, created, seq, source, allocation"
ROLLOUT_COLUMNS = "page, version, previous, percent, author, started, updated"


def migrate(conn: sqlite3.Connection) -> None:
    """Add what later versions store to a database made by an earlier one."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(templates)")}
    if "source" not in columns:
        conn.execute("ALTER TABLE templates ADD COLUMN source TEXT NOT NULL DEFAULT ''")
    if "allocation" not in columns:  # before scheme 3: read as the initial allocation
        conn.execute("ALTER TABLE templates ADD COLUMN allocation BLOB NOT NULL DEFAULT x''")


def apply(conn: sqlite3.Connection, page: str, writes: Writes) -> None:
    """Inside a write transaction: append the entries, set the rollout and archive marker."""
    for record in writes.appends:
        conn.execute(
            f"INSERT INTO templates ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                page,
                record.version,
                record.document,
                record.author,
                record.message,
                record.created,
                record.seq,
                record.source,
                record.allocation,
            ),
        )
    if writes.rollout != UNCHANGED:
        conn.execute("DELETE FROM rollouts WHERE page = ?", (page,))
        if writes.rollout is not None:
            r = writes.rollout
            conn.execute(
                f"INSERT INTO rollouts ({ROLLOUT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (page, r.version, r.previous, r.percent, r.author, r.started, r.updated),
            )
    if writes.archive is not None:
        conn.execute(
            "INSERT OR REPLACE INTO archived (page, author, created) VALUES (?, ?, ?)",
            (page, writes.archive.author, writes.archive.created),
        )
    if writes.unarchive:
        conn.execute("DELETE FROM archived WHERE page = ?", (page,))


def states(conn: sqlite3.Connection, page: str | None = None) -> dict[str, PageState]:
    """Every page with a history (or only `page`), with its rollout and archive marker."""
    where, args = ("WHERE page = ?", (page,)) if page is not None else ("", ())
    heads = {
        row[0]: _record(row)
        for row in conn.execute(
            f"SELECT {COLUMNS} FROM templates t {where} {'AND' if where else 'WHERE'} seq = "
            "(SELECT max(seq) FROM templates WHERE page = t.page) ORDER BY page",
            args,
        )
    }
    rollouts = {
        row[0]: Rollout(*row)
        for row in conn.execute(f"SELECT {ROLLOUT_COLUMNS} FROM rollouts {where}", args)
    }
    archived = {
        row[0]: Archived(*row)
        for row in conn.execute(f"SELECT page, author, created FROM archived {where}", args)
    }
    out: dict[str, PageState] = {}
    for name, head in heads.items():
        rollout = rollouts.get(name)
        previous = newest_of_version(conn, name, rollout.previous) if rollout else None
        out[name] = PageState(head, archived.get(name), rollout, previous)
    return out


def all_live(conn: sqlite3.Connection) -> dict[str, TemplateRecord]:
    """The newest entry of every page that is not archived."""
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM templates t WHERE seq = "
        "(SELECT max(seq) FROM templates WHERE page = t.page) "
        "AND page NOT IN (SELECT page FROM archived) ORDER BY page"
    ).fetchall()
    return {row[0]: _record(row) for row in rows}


def live(conn: sqlite3.Connection, page: str) -> TemplateRecord | None:
    """The newest entry of the page, unless it is archived."""
    row = conn.execute(
        f"SELECT {COLUMNS} FROM templates WHERE page = ? "
        "AND page NOT IN (SELECT page FROM archived) ORDER BY seq DESC LIMIT 1",
        (page,),
    ).fetchone()
    return None if row is None else _record(row)


def newest_of_version(conn: sqlite3.Connection, page: str, version: str) -> TemplateRecord | None:
    row = conn.execute(
        f"SELECT {COLUMNS} FROM templates WHERE page = ? AND version = ? ORDER BY seq DESC LIMIT 1",
        (page, version),
    ).fetchone()
    return None if row is None else _record(row)


def history(conn: sqlite3.Connection, page: str) -> list[TemplateRecord]:
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM templates WHERE page = ? ORDER BY seq DESC", (page,)
    ).fetchall()
    return [_record(row) for row in rows]


def _record(row: tuple[Any, ...]) -> TemplateRecord:
    page, version, document, author, message, created, seq, source, allocation = row
    return TemplateRecord(
        page, version, bytes(document), author, message, created, seq, source, bytes(allocation)
    )


class SQLiteTemplates:
    """Template versions per page in the shared database; the newest entry is live."""

    def __init__(self, db: Database, audit: AuditHook | None = None) -> None:
        self._db = db
        self._audit = audit

    def audited(self, hook: AuditHook) -> SQLiteTemplates:
        """This store, its writes appending `hook`'s entry in their own transaction."""
        return SQLiteTemplates(self._db, hook)

    async def publish(
        self,
        page: str,
        version: str,
        document: bytes,
        author: str,
        message: str,
        now: float,
        options: PublishOptions | None = None,
    ) -> PageState:
        """Append `version` to the page's history and make it live (see `TemplateStore`).

        Publishing the version that is already live returns the live record unchanged (no new
        history entry, no invalidation), so retries are idempotent. Publishing an older version
        again (rollback) appends a new entry with a new seq. Versions are immutable: a known
        version with a different document raises ValueError and changes nothing. The checks of
        `options` run inside the same `BEGIN IMMEDIATE` transaction as the write: two
        processes publishing on the same base cannot both pass.
        """

        def plan(conn: sqlite3.Connection, state: PageState | None) -> Writes:
            earlier = newest_of_version(conn, page, version)
            return plan_publish(
                page,
                version,
                document,
                author,
                message,
                now,
                options,
                state,
                earlier,
                history(conn, page) if needs_history(document, state) else (),
            )

        return await self._write(page, now, plan)

    async def _write(
        self,
        page: str,
        now: float,
        plan: Callable[[sqlite3.Connection, PageState | None], Writes],
    ) -> PageState:
        """Read the page's state, plan, write, invalidate and append the audit hook's entry, in
        one write transaction; the page as this transaction left it (never read again after the
        commit)."""
        changes = [Invalidation("template", page)]
        entry: AuditEntry | None = None
        with self._db.tx(write=True) as conn:
            state = states(conn, page).get(page)
            writes = plan(conn, state)
            after = writes.after(state)
            if writes.changed:
                apply(conn, page, writes)
                self._db.changes.append(conn, changes, now)
                made = None if self._audit is None else self._audit.entry(state, after)
                if made is not None:
                    entry = insert_audit(conn, made)
        if writes.changed:
            self._db.listeners.emit(changes)
        if entry is not None and self._audit is not None:
            self._audit.stored(entry)
        return after

    async def set_rollout(self, page: str, percent: int, author: str, now: float) -> PageState:
        return await self._write(
            page, now, lambda conn, state: plan_percent(page, percent, now, state)
        )

    async def end_rollout(
        self,
        page: str,
        outcome: Literal["promote", "abort"],
        author: str,
        now: float,
        message: str = "",
    ) -> PageState:
        return await self._write(
            page, now, lambda conn, state: plan_end(page, outcome, author, now, state, message)
        )

    async def archive(self, page: str, author: str, now: float) -> PageState:
        return await self._write(
            page, now, lambda conn, state: plan_archive(page, author, now, state)
        )

    async def states(self, page: str | None = None) -> dict[str, PageState]:
        with self._db.tx(write=False) as conn:
            return states(conn, page)

    async def live(self) -> dict[str, TemplateRecord]:
        with self._db.tx(write=False) as conn:
            return all_live(conn)

    async def live_template(self, page: str) -> TemplateRecord | None:
        with self._db.tx(write=False) as conn:
            return live(conn, page)

    async def get_version(self, page: str, version: str) -> TemplateRecord | None:
        """The newest history entry of that version (a rollback repeats a version)."""
        with self._db.tx(write=False) as conn:
            return newest_of_version(conn, page, version)

    async def history(self, page: str) -> list[TemplateRecord]:
        with self._db.tx(write=False) as conn:
            return history(conn, page)
