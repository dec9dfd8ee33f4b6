"""One Redis for every role of the Redis store: the client (a connection pool), the
invalidation channel, the listeners of this process and the key names.

Failures: connection errors and timeouts become `StoreUnavailable` quickly (0.5 s connect and
operation timeouts, one immediate retry on a fresh connection), so a dead Redis never hangs a
request; the same connection works again once Redis is back. Pub/sub delivers at most once
(DESIGN section 7); the subscriber and its reconnects live in `pubsub`.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from uiserver.store._common import Listeners
from uiserver.store.redis.errors import UNAVAILABLE
from uiserver.store.redis.keys import DEFAULT_PREFIX, Keys
from uiserver.store.redis.pubsub import InvalidationChannel


class Connection:
    """What the roles share (the counterpart of the SQLite store's `Database`).

    conn = Connection("redis://localhost:6379/0")
    await conn.open()                 # starts the invalidation subscriber
    async with conn.redis.pipeline(transaction=True) as pipe:
        ...
        conn.channel.publish(pipe, changes)
        await pipe.execute()
    conn.listeners.emit(changes)
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        timeout: float = 0.5,
        max_backoff: float = 2.0,
        silence: float = 5.0,
    ) -> None:
        self.url = url
        self.keys = Keys(prefix)
        self.listeners = Listeners()
        self.redis = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),  # one retry: replaces a pooled connection Redis closed
        )
        # `silence`: no reply to the subscriber's pings for this long means the link is dead.
        self.channel = InvalidationChannel(
            url,
            f"{prefix}invalidate",
            self.listeners,
            timeout=timeout,
            max_backoff=max_backoff,
            silence=silence,
        )

    async def open(self, wait: float = 1.0) -> None:
        """Start the subscriber and wait up to `wait` s for it to subscribe. Does not raise when
        Redis is down: the subscriber keeps trying, `ping()` says False meanwhile."""
        await self.channel.start(wait)

    async def close(self) -> None:
        await self.channel.stop()
        await self.redis.aclose()

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except (RedisError, *UNAVAILABLE):
            return False
