"""Stopping a background task for sure.

`task.cancel()` then `await task` can wait for ever on Python 3.11: `asyncio.wait_for`, through
which redis-py reads every reply, returns the awaited result and drops the cancel when that
result arrives in the same turn of the event loop as the cancel (CPython gh-86296; wait_for is
built on `asyncio.timeout` from 3.12), and a task looping until cancelled goes on with its loop.
A lifespan's shutdown awaiting it then never ends: a TestClient teardown timed out after 300 s
in CI. `stop` repeats the cancel while the task runs.
"""

from __future__ import annotations

import asyncio
from typing import Any

# Seconds between two cancels of a task that still runs: room for the task's own clean-up (an
# outbox hands its leases on: one store call each, 0.5 s timeouts) before it is cut short.
RECANCEL_S = 1.0


async def stop(task: asyncio.Task[Any], every: float = RECANCEL_S) -> None:
    """Cancel `task` (of the running loop) and wait until it has ended, cancelling it again
    every `every` seconds while it runs. Raises what the task raised if it ended with an error
    rather than cancelled (as `await task` would); returns None otherwise."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=every)
    if not task.cancelled():
        task.result()
