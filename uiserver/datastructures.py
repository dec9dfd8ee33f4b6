"""Bounded maps and the miss coalescer every cache of the package is built from.

Both are single-threaded: everything that uses them runs on one event loop thread.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Coalescer(Generic[K, V]):
    """Concurrent callers asking for one key share one computation (no thundering herd)."""

    def __init__(self) -> None:
        self._inflight: dict[K, asyncio.Future[V]] = {}
        self.computations = 0

    async def run(self, key: K, compute: Callable[[], Awaitable[V]]) -> V:
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        self.computations += 1
        try:
            value = await compute()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it, nobody else must
            raise
        else:
            future.set_result(value)
            return value
        finally:
            del self._inflight[key]


class BoundedDict(dict[K, V]):
    """A dict that evicts its oldest insertion once `maxsize` is reached.

    For the caches a warm GET reads (token claims, parsed queries, profiles, the request memo):
    reads are plain `dict.get`, in C, where a cachetools lookup costs about a microsecond of
    Python per call and a warm GET has a dozen microseconds in all (DESIGN section 7), and an
    OrderedDict's `get` about twice a dict's. Eviction is first-in-first-out, which bounds
    memory as well as LRU does; a hot entry evicted early is recomputed from the levels below.
    Writes go through `__setitem__`; `evict` is the hook.

    The insertion order lives in a deque beside the dict, so finding the oldest key is O(1):
    `next(iter(dict))` walks the deleted slots a FIFO leaves at the front of a dict's table
    (~20-80 us an insert at 100,000 entries). Keys deleted other than by eviction stay in the
    deque until they reach its front (a key deleted and inserted again may then go a little
    early, harmless in a cache); the deque is rebuilt from the dict when such stale keys
    outnumber the live ones, so it stays within twice the dict's size (plus 16) at O(1)
    amortized cost. (Twice its bound before: a memo of 9,524 live entries, its users' profiles
    dropped by their activity writes, kept ~150,000 dead keys with their user ids in the deque
    at 150,000 first launches; issue 26, memory.)
    """

    def __init__(self, maxsize: int) -> None:
        super().__init__()
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._order: deque[K] = deque()

    def __setitem__(self, key: K, value: V) -> None:
        if key not in self:
            if len(self) >= self.maxsize:
                self._evict_oldest()
            order = self._order
            order.append(key)
            if len(order) > 2 * len(self) + 16:
                self._order = deque(dict.keys(self))
                self._order.append(key)
        super().__setitem__(key, value)

    def _evict_oldest(self) -> None:
        order = self._order
        while order:
            key = order.popleft()
            if key in self:
                self.evict(key)
                return

    def evict(self, key: K) -> None:
        """Remove `key` to make room; subclasses add what must go with it."""
        super().pop(key, None)

    def clear(self) -> None:
        super().clear()
        self._order.clear()


class Generation:
    """A number bumped by every change that may change an answer a cache keyed by request
    inputs holds (`http.rsgi.RSGIApp`'s table of warm answers): an entry made at one value is
    trusted only while the value is unchanged.

    generation = Generation()
    made_at = generation.value
    ...
    generation.bump()          # a publish heard, a revocation applied, a reload done
    fresh = made_at == generation.value
    """

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0

    def bump(self) -> None:
        self.value += 1
