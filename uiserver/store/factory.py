"""Pick the store from the `--store` / `UISERVER_STORE` setting."""

from __future__ import annotations

from pathlib import Path

from uiserver.store.base import Store

SQLITE_FILE = "uiserver.db"
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def open_store(url_or_none: str | None, data_dir: Path, *, poll_interval: float = 0.0) -> Store:
    """An empty URL (or None) -> SQLite in `data_dir`; `redis://...` -> the shared Redis store.

    `poll_interval` (SQLite): at most one check for other processes' writes per that many
    seconds on the hot path. Returns the store unopened: the caller awaits `open()` inside its
    event loop (the Redis store starts a subscriber task there).
    """
    url = (url_or_none or "").strip()
    if not url:
        from uiserver.store.sqlite.store import SQLiteStore

        return SQLiteStore(Path(data_dir) / SQLITE_FILE, poll_interval=poll_interval)
    if url.startswith(REDIS_SCHEMES):
        from uiserver.store.redis.store import RedisStore

        return RedisStore(url)
    raise ValueError(f"unknown store {url!r}: expected '' (SQLite) or redis://host:port/db")
