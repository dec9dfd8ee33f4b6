"""One Redis for every role of the Redis store: the client (a connection pool), the
invalidation channel, the listeners of this process and the key names.

The Redis is one server (`redis://`) or the primary a set of Sentinels names
(`redis+sentinel://`, `address`): then every new connection asks the sentinels where the primary
is, so after a failover commands and the subscriber reconnect to the new primary by themselves.

Failures: connection errors and timeouts become `StoreUnavailable` quickly (0.5 s connect and
operation timeouts, one immediate retry on a fresh connection), so a dead Redis never hangs a
request; the same connection works again once Redis is back. Pub/sub delivers at most once
(DESIGN section 7); the subscriber and its reconnects live in `pubsub`.
"""

from __future__ import annotations

from typing import cast

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.exceptions import RedisError

from uiserver.store._common import Listeners
from uiserver.store.redis.address import parse
from uiserver.store.redis.cluster import Cluster
from uiserver.store.redis.durable import Durable
from uiserver.store.redis.errors import UNAVAILABLE
from uiserver.store.redis.keys import DEFAULT_PREFIX, Keys
from uiserver.store.redis.pubsub import InvalidationChannel
from uiserver.store.redis.sharded import ShardedInvalidationChannel

# The shared families whose writes publish invalidations on their own channel in a cluster
# (templates, revocations); users publish on their bucket's channel.
CHANNEL_FAMILIES = ("tpl", "rev")


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
        self.address = parse(url)
        self.keys = Keys(prefix, cluster=self.address.kind == "cluster")
        self.listeners = Listeners()
        self._sentinel = (
            Sentinel(  # type: ignore[no-untyped-call]  # untyped in redis-py
                self.address.nodes,
                sentinel_kwargs={"socket_timeout": timeout, "socket_connect_timeout": timeout},
            )
            if self.address.kind == "sentinel"
            else None
        )
        # one retry: replaces a pooled connection Redis closed (or a primary no longer primary)
        self.redis = self._client(timeout, timeout, retries=1)
        self.durable = Durable(self.redis, *self.address.wait)
        # `silence`: no reply to the subscriber's pings for this long means the link is dead.
        self.channel: InvalidationChannel
        if self.address.kind == "cluster":
            self.channel = ShardedInvalidationChannel(
                # the commands' client: each resubscription refreshes its slot map too
                cast(RedisCluster, self.redis),
                self.keys.channels(CHANNEL_FAMILIES),
                self.listeners,
                timeout=timeout,
                max_backoff=max_backoff,
                silence=silence,
            )
        else:
            self.channel = InvalidationChannel(
                # the subscriber loop does its own reconnecting
                self._client(max(2.0, timeout), timeout, retries=0),
                self.keys.channel(),
                self.listeners,
                max_backoff=max_backoff,
                silence=silence,
            )

    async def open(self, wait: float = 1.0) -> None:
        """Start the subscriber and wait up to `wait` s for it to subscribe. Does not raise when
        Redis is down: the subscriber keeps trying, `ping()` says False meanwhile."""
        await self.channel.start(wait)

    def _client(self, timeout: float, connect: float, *, retries: int) -> aioredis.Redis:
        """A client of the primary: socket timeouts in seconds, `retries` immediate retries."""
        retry = Retry(NoBackoff(), retries)
        if self.address.kind == "cluster":
            # The same command API (redis-py's RedisCluster routes each command by its keys).
            return cast(aioredis.Redis, self._cluster(timeout))
        if self._sentinel is None:
            return aioredis.Redis.from_url(
                self.address.url,
                socket_timeout=timeout,
                socket_connect_timeout=connect,
                retry=retry,
            )
        client: aioredis.Redis = self._sentinel.master_for(
            self.address.service,
            db=self.address.db,
            socket_timeout=timeout,
            socket_connect_timeout=connect,
            retry=retry,
        )
        return client

    def _cluster(self, timeout: float) -> RedisCluster:
        """A cluster client: it learns the slots from any reachable node of the URL, follows
        MOVED/ASK, and refreshes the slot map when a node fails (its own retries); its
        transactions stay on the app's event loop (`cluster.Cluster`)."""
        return Cluster(
            startup_nodes=[ClusterNode(host, port) for host, port in self.address.nodes],
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            # a failed command is retried at most twice, within about half a second, so a
            # request never waits long on a dead primary
            retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.25), 2),
            reinitialize_steps=1,  # any connection error in a transaction refreshes the slots
        )

    async def close(self) -> None:
        await self.channel.stop()
        await self.redis.aclose()
        if self._sentinel is not None:
            await self._sentinel.aclose()

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except (RedisError, *UNAVAILABLE):
            return False
