"""The Redis Cluster client, with transactions that run on the app's event loop.

redis-py's asyncio cluster transaction (`TransactionStrategy`, redis-py 6-8) runs every command
given to the pipeline in a new thread with an event loop of its own (`asyncio.run`), joining the
thread from the app's loop: the command's slot lookup and, after a node failed, the client's
re-initialization. That re-initialization then waits on the client's `asyncio.Lock`, bound to the
app's loop (`RuntimeError: ... is bound to a different event loop`), or opens node connections on
the thread's loop, closed when the thread ends (`RuntimeError: ... the handler is closed` on the
next command). Seen as a 500 on a settings write during a primary's failover
(tests/process/test_cluster.py). `LoopSafeTransaction` keeps every step on the caller's loop:
commands executed at once (WATCH, the reads while watching) are coroutines awaited there, and
queued commands (after MULTI) have their slots looked up when the transaction executes.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio.cluster import (
    AbstractStrategy,
    ClusterPipeline,
    RedisCluster,
    TransactionStrategy,
)


class LoopSafeTransaction(TransactionStrategy):
    """A cluster transaction whose steps all run on the event loop that awaits them."""

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        """WATCH, UNWATCH and the commands while watching (before MULTI): a coroutine the caller
        awaits, which runs them at once; any other: queued, returning the pipeline."""
        at_once = self._watching or args[0] in self.IMMEDIATE_EXECUTE_COMMANDS
        if at_once and not self._explicit_transaction:
            return self._at_once(*args, **kwargs)
        return AbstractStrategy.execute_command(self, *args, **kwargs)

    async def _at_once(self, *args: Any, **kwargs: Any) -> Any:
        # redis-py's `_execute_command` finds the slot (re-initializing the client first if a
        # node failed) and returns the command's coroutine
        return await (await self._execute_command(*args, **kwargs))

    async def execute(self, raise_on_error: bool = True, allow_redirections: bool = True) -> Any:
        """The queued commands' slots (a re-initialization first, if due), then MULTI/EXEC."""
        client = self._pipe.cluster_client
        if client._initialize:
            await client.initialize()
        for command in self._command_queue:
            if command.args[0] not in self.NO_SLOTS_COMMANDS:
                self._pipeline_slots.add(await client._determine_slot(*command.args))
        return await super().execute(raise_on_error, allow_redirections)


class Cluster(RedisCluster):
    """redis-py's `RedisCluster` whose transaction pipelines are `LoopSafeTransaction`s."""

    def pipeline(self, transaction: Any | None = None, shard_hint: Any | None = None) -> Any:
        pipe: ClusterPipeline = super().pipeline(transaction, shard_hint)
        if transaction:
            pipe._execution_strategy = LoopSafeTransaction(pipe)
        return pipe
