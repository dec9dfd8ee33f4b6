"""The store circuit breaker behind degraded serving.

After a store read on the serving path fails, layouts are served degraded without asking the
store; one request a second probes it. So a dead (or black-holed: 0.5 s timeouts) Redis costs
one failed call a second, not one per launch. A success, or a reconnected invalidation
subscriber (`Invalidation("all")`), ends it.

    breaker = StoreBreaker()
    if breaker.may_ask():
        try:
            value = await store.read(...)
        except StoreUnavailable as exc:
            breaker.failed(exc)     # serve degraded
        else:
            breaker.answered()

Only the serving path (layouts, template reloads) consults it; writes and `/v1/me` reads always
ask the store and answer 503 when it is down.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger("uiserver")

# Seconds between two probes of a failing store (one caller per period gets to ask).
STORE_RETRY_SECONDS = 1.0


class StoreBreaker:
    """Open (degraded) from a failed serving-path read until the store answers again."""

    __slots__ = ("_retry_at",)

    def __init__(self) -> None:
        self._retry_at = 0.0  # 0: healthy; else the monotonic time of the next allowed probe

    @property
    def healthy(self) -> bool:
        """False from a failed serving-path read until the store answers again."""
        return self._retry_at == 0.0

    def may_ask(self) -> bool:
        """Whether serving may call the store now. While it is failing, one caller a second gets
        to probe it (and moves the next probe a second on); everyone else serves degraded."""
        if self._retry_at == 0.0:
            return True
        now = time.monotonic()
        if now < self._retry_at:
            return False
        self._retry_at = now + STORE_RETRY_SECONDS
        return True

    def failed(self, exc: Exception) -> None:
        """A serving-path read failed: degrade until the next probe succeeds."""
        if self.healthy:
            log.warning("store unreachable, serving degraded layouts: %s", exc)
        self._retry_at = time.monotonic() + STORE_RETRY_SECONDS

    def answered(self) -> None:
        """The store answered (a read, or a fresh invalidation subscription): healthy again."""
        if not self.healthy:
            log.info("store reachable again, degraded mode over")
            self._retry_at = 0.0
