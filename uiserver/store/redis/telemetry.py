"""The Redis store's `TelemetryStore` (keys under the store's prefix):

  tel:{page}   hash "{version}\\x1f{component}\\x1f{mode}\\x1f{kind}" -> count

One hash per page, bounded like the SQLite table by what was published (`engine.telemetry`). No
user id: erasure never looks here. The counts of one batch go in one MULTI/EXEC of HINCRBYs; a
transaction the client resends after a lost reply may count that batch twice (the events' ids
were already checked by the user's own transaction, `users.events`): telemetry may over-count by
a lost reply, never lose a committed count.
"""

from __future__ import annotations

from collections.abc import Mapping

from uiserver.engine.telemetry import TELEMETRY_KINDS, ComponentCounts, CounterKey, rows
from uiserver.store.redis.connection import Connection
from uiserver.store.redis.errors import guard
from uiserver.types import EventKind

SEP = "\x1f"  # cannot occur in a version, component id, mode or kind (all identifiers)
_KINDS: dict[str, EventKind] = {kind: kind for kind in TELEMETRY_KINDS}


class RedisTelemetry:
    """The TelemetryStore half of RedisStore."""

    def __init__(self, conn: Connection) -> None:
        self._redis = conn.redis
        self._keys = conn.keys

    def _key(self, page: str) -> str:
        return self._keys.group("tel", f"tel:{page}")  # one slot: a flush is one MULTI

    async def add_counts(self, counts: Mapping[CounterKey, int]) -> None:
        if not counts:
            return
        with guard():
            async with self._redis.pipeline(transaction=True) as pipe:
                for key, n in sorted(counts.items()):
                    field = SEP.join((key.version, key.component, key.mode, key.kind))
                    pipe.hincrby(self._key(key.page), field, n)
                await pipe.execute()

    async def component_counts(
        self, page: str, version: str | None = None
    ) -> list[ComponentCounts]:
        with guard():
            raw = await self._redis.hgetall(self._key(page))
        counts: dict[CounterKey, int] = {}
        for field, value in raw.items():
            name = field.decode() if isinstance(field, bytes) else str(field)
            parts = name.split(SEP)
            if len(parts) != 4 or (version is not None and parts[0] != version):
                continue
            v, component, mode, name = parts
            kind = _KINDS.get(name)
            if kind is not None:
                counts[CounterKey(page, v, component, mode, kind)] = int(value)
        return rows(counts)
