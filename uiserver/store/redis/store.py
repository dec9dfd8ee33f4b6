"""The scale-out store: profiles and templates in a shared Redis, invalidation over pub/sub.

`RedisStore` composes one object per role of `store.base.Store`, all on one `Connection` (the
client's pool, the invalidation channel, the listeners, the key names):

    users      RedisUsers      users.py      settings, affinities, segments, orders, erasure
    activity   RedisActivity   activity.py   counters and experiment counts
    templates  RedisTemplates  templates.py  template history, rollouts, archive
    telemetry  RedisTelemetry  telemetry.py  impressions, clicks, render errors (counters)
    capabilities RedisCapabilities capabilities.py  type lists, kill switches, renderers seen
    drafts     RedisDrafts     drafts.py     designers' drafts
    sessions   RedisSessions   sessions.py   designer console sessions (hashed ids)
    revocations RedisRevocations revocations.py  revoked subjects and token ids
    audit      RedisAudit      audit.py      the audit log of administrative acts
    webhooks   RedisWebhooks   webhooks.py   webhooks, their cursors and leases
    schedules  RedisSchedules  schedules.py  rollout schedules (compare-and-set on a revision)

Keys are named in `keys.py` (users and experiments), `templates.py` and `drafts.py`; the prefix
is `uiserver:` by default.

Every write is one MULTI/EXEC that also PUBLISHes its invalidations on `{prefix}invalidate`, so
the message goes out if and only if the write committed. Writes only ever *set* values, never
increment (but conversion counts: `activity`), so a transaction the client resends after a lost
reply leaves the same state. Pub/sub delivers at most once (DESIGN section 7); the subscriber
and its reconnects live in `pubsub`.

Failures and timeouts: `connection`.
"""

from __future__ import annotations

from collections.abc import Mapping

from uiserver.store.base import Listener
from uiserver.store.redis.activity import RedisActivity
from uiserver.store.redis.audit import RedisAudit
from uiserver.store.redis.capabilities import RedisCapabilities
from uiserver.store.redis.connection import Connection
from uiserver.store.redis.drafts import RedisDrafts
from uiserver.store.redis.keys import DEFAULT_PREFIX
from uiserver.store.redis.revocations import RedisRevocations
from uiserver.store.redis.schedules import RedisSchedules
from uiserver.store.redis.sessions import RedisSessions
from uiserver.store.redis.telemetry import RedisTelemetry
from uiserver.store.redis.templates import RedisTemplates
from uiserver.store.redis.users import RedisUsers
from uiserver.store.redis.webhooks import RedisWebhooks


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
        self.conn = Connection(
            url, prefix=prefix, timeout=timeout, max_backoff=max_backoff, silence=silence
        )
        self.users = RedisUsers(self.conn)
        self.activity = RedisActivity(self.conn)
        self.templates = RedisTemplates(self.conn)
        self.telemetry = RedisTelemetry(self.conn)
        self.capabilities = RedisCapabilities(self.conn)
        self.drafts = RedisDrafts(self.conn)
        self.sessions = RedisSessions(self.conn)
        self.revocations = RedisRevocations(self.conn)
        self.audit = RedisAudit(self.conn)
        self.webhooks = RedisWebhooks(self.conn)
        self.schedules = RedisSchedules(self.conn)

    @property
    def url(self) -> str:
        return self.conn.url

    async def open(self, wait: float = 1.0) -> None:
        """Start the subscriber and wait up to `wait` s for it to subscribe. Does not raise when
        Redis is down: the subscriber keeps trying, `ping()` says False meanwhile."""
        await self.conn.open(wait)

    async def close(self) -> None:
        await self.conn.close()

    async def ping(self) -> bool:
        return await self.conn.ping()

    def add_listener(self, listener: Listener) -> None:
        self.conn.listeners.add(listener)

    @property
    def invalidation_counts(self) -> Mapping[tuple[str, str], int]:
        return self.conn.listeners.counts

    @property
    def subscribed(self) -> bool:
        """True while the invalidation channel is subscribed; until then this process may miss
        other replicas' changes (readiness says not ready)."""
        return self.conn.channel.subscribed

    def poll(self) -> None:
        """Nothing to do: the subscriber task delivers other processes' invalidations."""
