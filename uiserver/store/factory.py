"""Pick the store from the `--store` / `UISERVER_STORE` setting."""

from __future__ import annotations

from pathlib import Path

from uiserver.store.base import Store
from uiserver.store.redis.address import is_redis_url, parse

SQLITE_FILE = "uiserver.db"
STORE_URLS = (
    "'' (SQLite), redis://host:port/db, redis+sentinel://host:port,.../service/db or "
    "redis-cluster://host:port,..."
)


def store_url_problem(url_or_none: str | None) -> str | None:
    """Why `--store` / `UISERVER_STORE` names no store, or None: not empty (SQLite) and not a
    Redis URL, or a Redis URL `store.redis.address.parse` refuses (its message)."""
    url = (url_or_none or "").strip()
    if not url:
        return None
    if not is_redis_url(url):
        return f"unknown store {url[:80]!r}: expected {STORE_URLS}"
    try:
        parse(url)
    except ValueError as exc:
        return str(exc)
    return None


def open_store(url_or_none: str | None, data_dir: Path, *, poll_interval: float = 0.0) -> Store:
    """An empty URL (or None) -> SQLite in `data_dir`; `redis://...` -> the shared Redis store,
    also behind Sentinel (`redis+sentinel://...`) or as a Cluster (`redis-cluster://...`; the
    schemes: `store.redis.address`). ValueError for anything else or a malformed Redis URL.

    `poll_interval` (SQLite): at most one check for other processes' writes per that many
    seconds on the hot path. Returns the store unopened: the caller awaits `open()` inside its
    event loop (the Redis store starts a subscriber task there).
    """
    problem = store_url_problem(url_or_none)
    if problem:
        raise ValueError(problem)
    url = (url_or_none or "").strip()
    if not url:
        from uiserver.store.sqlite.store import SQLiteStore

        return SQLiteStore(Path(data_dir) / SQLITE_FILE, poll_interval=poll_interval)
    from uiserver.store.redis.store import RedisStore

    return RedisStore(url)


def existing_store_problem(url_or_none: str | None, data_dir: Path) -> str | None:
    """Why a command that only acts on a server's existing store (`export`, `token revoke`)
    must not open this one, or None: a `--store` that is not a well-formed store URL, or
    SQLite with no database in `data_dir` (a mistyped `--data-dir` made a new empty store
    there, and the revocation went into it, unseen by every server, with exit 0)."""
    if (url_or_none or "").strip():
        return store_url_problem(url_or_none)
    if not (Path(data_dir) / SQLITE_FILE).is_file():
        return (
            f"no store in {data_dir} (no {SQLITE_FILE}): give the server's --data-dir (or "
            "UISERVER_DATA_DIR), or its --store"
        )
    return None
