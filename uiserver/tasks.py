"""Stopping a background task for sure, and shutdown steps that cannot hang.

`task.cancel()` then `await task` can wait for ever on Python 3.11: `asyncio.wait_for`, through
which redis-py sends every command (`AbstractConnection.send_packed_command`, whenever a socket
timeout is set, as ours always is), returns the awaited result and drops the cancel when that
result arrives in the same turn of the event loop as the cancel (CPython gh-86296; wait_for is
built on `asyncio.timeout` from 3.12), and a task looping until cancelled goes on with its loop.
A lifespan's shutdown awaiting it then never ends: a TestClient teardown timed out after 300 s
in CI (the Redis subscriber, cancelled as its PING was written:
`tests/unit/store/test_redis_shutdown.py` makes it happen every time).

The request itself is not lost: a task's count of cancel requests (`Task.cancelling()`) is only
taken back by whoever handles the cancel (`asyncio.timeout`, `TaskGroup`: `uncancel()`). Hence

- `check_cancelled()`: every background loop calls it once a turn, so a cancel swallowed below
  it ends the loop at the next turn;
- `stop(task)` repeats the cancel while the task runs;
- `bounded(step, name, within)` gives one step of a shutdown `within` seconds at most, then logs
  a WARNING naming it and returns, so the next step (closing the store) comes in any case.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

log = logging.getLogger("uiserver")

# Seconds between two cancels of a task that still runs: room for the task's own clean-up (an
# outbox hands its leases on: one store call each, 0.5 s timeouts) before it is cut short.
RECANCEL_S = 1.0


def cancel_requested() -> bool:
    """Whether the running task was cancelled and nobody took the request back: True after a
    cancel some library swallowed. False in a callback of the loop (no task)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def check_cancelled() -> None:
    """Raise CancelledError in a task whose cancel was swallowed below it (`cancel_requested`);
    called once a turn by every background loop."""
    if cancel_requested():
        raise asyncio.CancelledError


async def stop(task: asyncio.Task[Any], every: float = RECANCEL_S) -> None:
    """Cancel `task` (of the running loop) and wait until it has ended, cancelling it again
    every `every` seconds while it runs. Raises what the task raised if it ended with an error
    rather than cancelled (as `await task` would); returns None otherwise. Unbounded: a task
    that ignores every cancel keeps it waiting (put a time limit around it: `bounded`)."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=every)
    if not task.cancelled():
        task.result()


async def bounded(step: Awaitable[None], name: str, within: float) -> bool:
    """Run one shutdown step for at most `within` seconds; True when it finished in time.

    The step runs as a task of its own, so a step that swallows cancels cannot take the
    caller's time limit with it. Overrun: a WARNING naming the step; the step is cancelled and
    given `RECANCEL_S` more, then left running (logged); the caller goes on. A step that
    fails: logged with its traceback (ERROR), False."""
    task = asyncio.ensure_future(step)
    task.set_name(name)
    done, _ = await asyncio.wait({task}, timeout=within)
    if not done:
        log.warning("shutdown: %s did not finish within %.1f s; going on", name, within)
        task.add_done_callback(_retrieve)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=RECANCEL_S)
        if not done:
            log.warning("shutdown: %s ignores cancellation; left running", name)
        return False
    if task.cancelled():
        return False
    error = task.exception()
    if error is not None:
        log.error("shutdown: %s failed", name, exc_info=error)
        return False
    return True


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Take the outcome of a step left behind, so asyncio reports no exception that was never
    retrieved (the step was logged when it overran)."""
    if not task.cancelled():
        task.exception()
