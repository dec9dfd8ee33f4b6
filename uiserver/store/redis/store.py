"""The scale-out store: profiles and templates in a shared Redis, invalidation over pub/sub.

`RedisStore` composes one object per role of `store.base.Store`, all on one connection pool,
one invalidation channel and one set of listeners:

    users      RedisUsers      users.py      settings, affinities, segments, orders, erasure
    activity   RedisActivity   activity.py   counters and experiment counts
    templates  RedisTemplates  templates.py  template history, rollouts, archive
    drafts     RedisDrafts     drafts.py     designers' drafts

Keys are named in `keys.py` (users and experiments), `templates.py` and `drafts.py`; the prefix
is `uiserver:` by default.

Every write is one MULTI/EXEC that also PUBLISHes its invalidations on `{prefix}invalidate`, so
the message goes out if and only if the write committed. Writes only ever *set* values, never
increment (but conversion counts: `activity`), so a transaction the client resends after a lost
reply leaves the same state. Pub/sub delivers at most once (DESIGN section 7); the subscriber
and its reconnects live in `pubsub`.

Failures: connection errors and timeouts become `StoreUnavailable` quickly (0.5 s connect and
operation timeouts, one immediate retry on a fresh connection), so a dead Redis never hangs a
request; the same store object works again once Redis is back.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from uiserver.store._common import Listeners
from uiserver.store.base import Listener
from uiserver.store.redis.activity import RedisActivity
from uiserver.store.redis.drafts import RedisDrafts
from uiserver.store.redis.errors import UNAVAILABLE
from uiserver.store.redis.keys import DEFAULT_PREFIX, Keys
from uiserver.store.redis.pubsub import InvalidationChannel
from uiserver.store.redis.templates import RedisTemplates
from uiserver.store.redis.users import RedisUsers


class RedisStore:
    """The shared store for several replicas.

    Usage:
        store = RedisStore("redis://localhost:6379/0")
        await store.open()          # starts the invalidation subscriber
        store.add_listener(cache.invalidate)
        profile = await store.users.get_profile("u1")
        await store.close()
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
        self._listeners = Listeners()
        self._redis = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),  # one retry: replaces a pooled connection Redis closed
        )
        # `silence`: no reply to the subscriber's pings for this long means the link is dead.
        self._channel = InvalidationChannel(
            url,
            f"{prefix}invalidate",
            self._listeners,
            timeout=timeout,
            max_backoff=max_backoff,
            silence=silence,
        )
        keys = Keys(prefix)
        self.users = RedisUsers(self._redis, keys, self._channel, self._listeners)
        self.activity = RedisActivity(self._redis, keys, self._channel, self._listeners)
        self.templates = RedisTemplates(self._redis, prefix, self._channel, self._listeners)
        self.drafts = RedisDrafts(self._redis, prefix)

    async def open(self, wait: float = 1.0) -> None:
        """Start the subscriber and wait up to `wait` s for it to subscribe. Does not raise when
        Redis is down: the subscriber keeps trying, `ping()` says False meanwhile."""
        await self._channel.start(wait)

    async def close(self) -> None:
        await self._channel.stop()
        await self._redis.aclose()

    @property
    def subscribed(self) -> bool:
        """True while the invalidation channel is subscribed; until then this process may miss
        other replicas' changes (readiness says not ready)."""
        return self._channel.subscribed

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, *UNAVAILABLE):
            return False

    def add_listener(self, listener: Listener) -> None:
        self._listeners.add(listener)

    def poll(self) -> None:
        """Nothing to do: the subscriber task delivers other processes' invalidations."""
