"""Invalidations in a Redis Cluster: sharded pub/sub (SPUBLISH / SSUBSCRIBE, Redis 7.0).

A classic PUBLISH in a cluster is broadcast over the cluster bus to every node. A sharded
channel lives in one slot, and its messages go only to the nodes of that slot's shard
(https://redis.io/docs/latest/develop/interact/pubsub/#sharded-pubsub). So each write SPUBLISHes
on the channel of its own slot tag (`keys.Keys.channel`: one per user erasure bucket, one per
shared family), inside its own MULTI: the message goes out if and only if the write committed,
as on a single server.

A subscriber listens on every channel: it asks the cluster which primary serves each channel's
slot, opens one connection per primary, and SSUBSCRIBEs there, one command per slot (a command's
channels must share a slot). Any failure of any link (a primary killed, a slot moved) ends the
whole session: the loop in `pubsub` refreshes the slot map, subscribes again everywhere and
applies `Invalidation("all")` once every channel is confirmed, which covers what it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
from asyncio import FIRST_COMPLETED
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.crc import key_slot
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from uiserver.store._common import Listeners
from uiserver.store.base import Invalidation
from uiserver.store.redis.pubsub import InvalidationChannel


class ShardedInvalidationChannel(InvalidationChannel):
    """Every channel of `channels` over sharded pub/sub; `publish` takes the write's channel."""

    def __init__(
        self,
        cluster: RedisCluster,
        channels: Sequence[str],
        listeners: Listeners,
        *,
        timeout: float,
        max_backoff: float,
        silence: float,
    ) -> None:
        super().__init__(cluster, channels[0], listeners, max_backoff=max_backoff, silence=silence)
        self.channels = list(channels)
        self._timeout = timeout
        self._pending = 0  # confirmations still awaited in this session

    def publish(self, pipe: Any, invalidations: list[Invalidation], channel: str = "") -> None:
        """Queue SPUBLISH on `channel` (the write's slot) inside the write's MULTI."""
        pipe.execute_command("SPUBLISH", channel or self.channel, self.encode(invalidations))

    async def _session(self) -> AsyncIterator[bool]:
        owners = await self._slot_owners()
        by_node: dict[tuple[str, int], dict[int, list[str]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for channel in self.channels:
            slot = key_slot(channel.encode())
            if slot not in owners:
                raise RedisConnectionError(f"no primary serves slot {slot}")
            by_node[owners[slot]][slot].append(channel)
        self._pending = len(self.channels)
        queue: asyncio.Queue[bool] = asyncio.Queue()
        ended = asyncio.Event()  # tells the links to end (redis-py may swallow a cancel)
        tasks = [
            asyncio.create_task(self._node(host, port, slots, queue, ended))
            for (host, port), slots in by_node.items()
        ]
        try:
            while True:  # until any link ends: then the whole session does
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getter, *tasks}, return_when=FIRST_COMPLETED)
                over = [task for task in tasks if task in done]
                if over:
                    getter.cancel()
                    raise over[0].exception() or RedisConnectionError("a link ended")
                yield getter.result()
        finally:
            ended.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _slot_owners(self) -> dict[int, tuple[str, int]]:
        """slot -> (host, port) of its primary now, from CLUSTER SLOTS of the first node of the
        URL that answers (asked afresh every session: after a failover the map has moved)."""
        cluster: RedisCluster = self._redis
        failures = []
        for node in cluster.nodes_manager.startup_nodes.values():
            client = aioredis.Redis(
                host=node.host,
                port=int(node.port),
                socket_timeout=self._timeout,
                socket_connect_timeout=self._timeout,
                retry=Retry(NoBackoff(), 0),
            )
            try:
                ranges = await client.execute_command("CLUSTER SLOTS")  # type: ignore[no-untyped-call]
            except (RedisError, OSError) as exc:
                failures.append(exc)
                continue
            finally:
                await client.aclose()
            return {
                slot: (_text(r[2][0]), int(r[2][1]))
                for r in ranges
                for slot in range(int(r[0]), int(r[1]) + 1)
            }
        raise RedisConnectionError(f"no cluster node answered: {failures}")

    async def _node(
        self,
        host: str,
        port: int,
        slots: Mapping[int, list[str]],
        queue: asyncio.Queue[bool],
        ended: asyncio.Event,
    ) -> None:
        """One primary's link: subscribe to its channels, pass on messages until it fails or
        the session `ended` (checked at least every `silence` / 4 s)."""
        client = aioredis.Redis(
            host=host,
            port=port,
            socket_timeout=max(2.0, self._timeout),
            socket_connect_timeout=self._timeout,
            retry=Retry(NoBackoff(), 0),
        )
        pubsub = client.pubsub()
        try:
            for channels in slots.values():
                await pubsub.ssubscribe(*channels)
            async for resubscribed in self._messages(pubsub):
                if ended.is_set():
                    return
                queue.put_nowait(resubscribed)
        finally:
            # bounded: closing a pubsub whose node is gone can wait on it
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self._timeout):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self._timeout):
                    await client.aclose()

    def _on_message(self, message: Mapping[str, Any]) -> bool:
        """Deliver one message; a (re)subscription counts once every channel is confirmed."""
        kind = message["type"]
        if kind == "ssubscribe":
            self._pending -= 1
            if self._pending > 0:
                return False
            return super()._on_message({**message, "type": "subscribe"})
        if kind == "smessage":
            return super()._on_message({**message, "type": "message"})
        return False


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw
