"""Writes that must survive a failover: the transaction, then Redis's `WAIT` on its connection.

Redis replicates asynchronously: a primary that dies right after answering EXEC may take the
write with it, and the replica Sentinel promotes never had it. For the writes the store marks
durable (template publishes, rollbacks, rollouts and archives, and user erasure; DEPLOY.md,
"Redis Sentinel") the transaction is followed, on the same connection, by `WAIT replicas
timeout_ms` (https://redis.io/docs/latest/commands/wait/): the write is acknowledged only once
`replicas` replicas have it. `WAIT` counts the writes of its own connection, which is why it
is sent inside the pipeline's `execute`, before the connection goes back to the pool.

Fewer replicas within the timeout raise `NotReplicated` (a `StoreUnavailable`: 503, "try again"):
the write is on the primary and will reach the replicas when they are back, but it is not
acknowledged as safe. Repeating it is harmless (erasure is final either way; publishing the live
version again changes nothing).
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.asyncio.connection import Connection

from uiserver.store.base import StoreUnavailable


class NotReplicated(StoreUnavailable):
    """The transaction committed on the primary, but fewer replicas than asked confirmed it."""


class WaitingPipeline(Pipeline):
    """A MULTI/EXEC pipeline that sends `WAIT replicas timeout_ms` after EXEC, on the same
    connection, and raises NotReplicated when fewer replicas confirmed."""

    def __init__(self, redis: aioredis.Redis, replicas: int, timeout_ms: int) -> None:
        super().__init__(redis.connection_pool, redis.response_callbacks, True, None)
        self.replicas = replicas
        self.timeout_ms = timeout_ms

    async def _execute_transaction(
        self, connection: Connection, commands: Any, raise_on_error: bool
    ) -> list[Any]:
        response: list[Any] = await super()._execute_transaction(
            connection, commands, raise_on_error
        )
        await connection.send_command("WAIT", self.replicas, self.timeout_ms)
        confirmed = int(await connection.read_response())
        if confirmed < self.replicas:
            raise NotReplicated(
                f"redis: the write is on the primary, but {confirmed} of the {self.replicas} "
                f"replicas asked for confirmed it within {self.timeout_ms} ms",
                "refused",  # counted with the refusals in /metrics (store errors by kind)
            )
        return response


class Durable:
    """Pipelines for durable writes: `WaitingPipeline`s when `replicas` > 0, else plain ones."""

    def __init__(self, redis: aioredis.Redis, replicas: int, timeout_ms: int) -> None:
        self._redis = redis
        self.replicas = replicas
        self.timeout_ms = timeout_ms

    def pipeline(self) -> Pipeline:
        """A transaction pipeline (use as `async with`), waiting for replicas when asked to."""
        if self.replicas <= 0:
            return self._redis.pipeline(transaction=True)
        return WaitingPipeline(self._redis, self.replicas, self.timeout_ms)
