"""Which Redis failures mean "unavailable" (503 for writes, degraded reads) rather than a bug."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from redis.exceptions import (
    AskError,
    ClusterError,
    OutOfMemoryError,
    ReadOnlyError,
    ResponseError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from uiserver.store.base import StoreUnavailable

UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError)  # OSError covers TimeoutError
# Errors by which a reachable Redis refuses service for a while (out of memory, read-only
# replica, failed persistence, still loading): unavailable, not a bug.
REFUSED = (OutOfMemoryError, ReadOnlyError)
REFUSALS = ("OOM", "READONLY", "MISCONF", "LOADING", "MASTERDOWN", "NOREPLICAS", "BUSY")
# A cluster in failover, once the client's own retries are spent: CLUSTERDOWN and MASTERDOWN
# (ClusterDownError), "TTL exhausted" (ClusterError), TRYAGAIN during a slot migration, MOVED or
# ASK still answered after the slot map was re-read, a slot no known node serves.
CLUSTER_MOVING = (ClusterError, TryAgainError, AskError, SlotNotCoveredError)


@contextlib.contextmanager
def guard() -> Iterator[None]:
    """Connection trouble and refusals -> StoreUnavailable; other errors pass through."""
    try:
        yield
    except UNAVAILABLE as exc:
        kind = "timeout" if isinstance(exc, (RedisTimeoutError, TimeoutError)) else "connection"
        raise StoreUnavailable(f"redis: {exc}", kind) from exc
    except CLUSTER_MOVING as exc:
        raise StoreUnavailable(f"redis cluster: {type(exc).__name__}: {exc}", "refused") from exc
    except ResponseError as exc:
        # inside a transaction redis-py makes it "Command # N (...) of pipeline caused error:
        # ('NOREPLICAS ...',)": the reply is what follows, without the tuple's repr
        reply = str(exc).rpartition("caused error: ")[2].lstrip("('\"")
        if isinstance(exc, REFUSED) or reply.startswith(REFUSALS):
            raise StoreUnavailable(f"redis: {reply}", "refused") from exc
        raise
