"""The Redis store's invalidation transport: PUBLISH inside each write's MULTI, one subscriber.

Pub/sub delivers at most once (DESIGN section 7): a background task subscribes, reconnects with
backoff forever, and tells this process's listeners `Invalidation("all")` on every
(re)subscription, since it may have missed messages while away. A message carries its sender's
origin; a process ignores its own (its listeners were called locally at commit).

Stopping: redis-py can swallow the cancel (a PING written the instant `stop()` cancels:
`uiserver.tasks`), so the loop checks for a lost cancel after every PING and message, `stop()`
cancels again while the task runs on, and gives it `STOP_S` at most before closing the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Mapping
from typing import Any

import msgspec
from redis.asyncio.client import Pipeline, PubSub
from redis.exceptions import ConnectionError as RedisConnectionError

from uiserver.store._common import Listeners, log
from uiserver.store.base import Invalidation
from uiserver.tasks import bounded, check_cancelled, stop

STOP_S = 2.0  # how long `stop()` waits for the subscriber to end (seconds); then it is left

Message = tuple[str, list[Invalidation]]  # (origin, what changed)

_encode = msgspec.msgpack.Encoder().encode
_decode_message = msgspec.msgpack.Decoder(Message).decode


class InvalidationChannel:
    """`{prefix}invalidate`: publish from write pipelines, deliver others' messages locally."""

    def __init__(
        self,
        redis: Any,
        channel: str,
        listeners: Listeners,
        *,
        max_backoff: float,
        silence: float,
    ) -> None:
        """`redis`: this channel's own client (its socket timeout above `silence` / 4, no
        retries: the subscriber loop reconnects); a `redis.asyncio.Redis` here, a
        `RedisCluster` for `sharded.ShardedInvalidationChannel`."""
        self.channel = channel
        self._listeners = listeners
        self._max_backoff = max_backoff
        self._silence = silence  # no reply to our pings for this long: the link is dead
        self._origin = secrets.token_hex(8)  # our own messages are delivered locally already
        self._redis = redis
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    @property
    def subscribed(self) -> bool:
        return self._subscribed.is_set()

    async def start(self, wait: float) -> None:
        """Start the subscriber (if not running) and wait up to `wait` s for it to subscribe."""
        if self._task is None or self._task.done():
            self._subscribed = asyncio.Event()
            self._task = asyncio.create_task(self._subscribe_forever())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await self._subscribed.wait()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            # redis-py may swallow a cancel: repeated (uiserver.tasks), for STOP_S at most
            await bounded(stop(task), "the redis invalidation subscriber", STOP_S)
        await self._redis.aclose()

    def publish(
        self, pipe: Pipeline | Any, invalidations: list[Invalidation], channel: str = ""
    ) -> None:
        """Queue the PUBLISH inside the write's MULTI: sent only if the write commits.
        `channel`: the sharded channel of the write's slot (a cluster); ignored here."""
        pipe.publish(self.channel, self.encode(invalidations))

    def encode(self, invalidations: list[Invalidation]) -> bytes:
        return _encode((self._origin, invalidations))

    async def _subscribe_forever(self) -> None:
        backoff = 0.05
        while True:
            check_cancelled()
            try:
                async for resubscribed in self._session():
                    if resubscribed:
                        backoff = 0.05
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: resubscribe, never die
                log.warning("redis invalidation subscriber: %s; reconnecting", exc)
            finally:
                self._subscribed.clear()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff)

    async def _session(self) -> AsyncIterator[bool]:
        """One subscription, until its link fails: yields whether each message was a
        (re)subscription."""
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(self.channel)
            async for resubscribed in self._messages(pubsub):
                yield resubscribed
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def _messages(self, pubsub: PubSub) -> AsyncIterator[bool]:
        """Handle messages until the link fails or goes silent.

        A connection can die without a reset (host gone, partition): we PING four times per
        `silence` period and give up on the link when nothing, not even a pong, came back for
        `silence` seconds. Yields whether each message was a (re)subscription, and False
        after a quiet wait too (so the caller can end the link at least every `silence` / 4 s).
        """
        clock = asyncio.get_running_loop().time
        every = self._silence / 4
        heard = next_ping = clock()
        while True:
            if clock() >= next_ping:
                next_ping = clock() + every
                await pubsub.ping()
                check_cancelled()  # redis-py may have swallowed it (the module docstring)
            message = await pubsub.get_message(timeout=every)
            check_cancelled()
            now = clock()
            if message is not None:
                heard = now
                yield self._on_message(message)
            elif now - heard > self._silence:
                raise RedisConnectionError(f"no reply from redis for {now - heard:.1f} s")
            else:
                yield False

    def _on_message(self, message: Mapping[str, Any]) -> bool:
        """Deliver one pub/sub message; True when it was a (re)subscription."""
        if message["type"] == "subscribe":
            self._subscribed.set()
            self._listeners.emit([Invalidation("all")], received=True)  # we may have missed some
            return True
        if message["type"] == "message":
            try:
                origin, invalidations = _decode_message(message["data"])
            except msgspec.DecodeError:
                log.warning("undecodable invalidation message ignored")
                return False
            if origin != self._origin:
                self._listeners.emit(invalidations, received=True)
        return False
