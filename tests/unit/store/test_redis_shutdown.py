"""Closing a Redis store ends its invalidation subscriber even when redis-py swallows the
cancel (a real redis-server; only the instant of the cancel is arranged).

On Python 3.11 `asyncio.wait_for` returns the awaited result instead of raising when a cancel
arrives after the awaited thing finished (CPython gh-86296, fixed in 3.12), and redis-py sends
every command through `wait_for` (`AbstractConnection.send_packed_command`, when a socket
timeout is set). The subscriber PINGs every `silence` / 4 s: a store closed right after a PING
was written lost its one CancelledError, the subscriber kept looping and `close()` waited for
it forever (the CI hang at the end of `test_rollout_widen_and_promote[redis]`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import pytest
from redis.asyncio.connection import AbstractConnection

from uiserver.store.redis.store import RedisStore

pytestmark = pytest.mark.anyio


@pytest.mark.redis
@pytest.mark.timeout(30)
async def test_close_ends_the_subscriber_when_the_cancel_lands_as_a_ping_is_written(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RedisStore(redis_url, silence=0.2)  # a PING every 0.05 s
    await store.open()
    assert store.subscribed
    subscriber = store.conn.channel._task
    assert subscriber is not None
    written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    send = AbstractConnection._send_packed_command

    async def send_then_tell(self: AbstractConnection, command: Iterable[bytes]) -> None:
        await send(self, command)
        if not written.done() and b"PING" in b"".join(command):
            # `wait_for`'s inner task has finished; its waiter is released on the next turn
            # of the loop. The test wakes first and cancels: the subscriber, woken by the
            # cancel, finds the write done and `wait_for` returns instead of raising.
            written.set_result(None)

    monkeypatch.setattr(AbstractConnection, "_send_packed_command", send_then_tell)
    await written
    closing = asyncio.ensure_future(store.close())
    done, _ = await asyncio.wait({closing}, timeout=10.0)
    assert closing in done, "close() still waits for the subscriber after 10 s"
    await closing
    assert subscriber.done()
