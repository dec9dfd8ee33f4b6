"""Which Redis failures `errors.guard` turns into StoreUnavailable (a 503 for writes) and which
pass through as bugs; the cluster's failover errors are the former."""

from __future__ import annotations

import pytest
from redis.exceptions import (
    AskError,
    ClusterDownError,
    ClusterError,
    ConnectionError,
    CrossSlotTransactionError,
    MasterDownError,
    MovedError,
    ResponseError,
    SlotNotCoveredError,
    TryAgainError,
)

from uiserver.store.base import StoreUnavailable
from uiserver.store.redis.errors import guard

# what redis-py's cluster client raises once its own retries are spent during a failover
FAILOVER = [
    ClusterDownError("The cluster is down"),
    MasterDownError("Link with MASTER is down and replica-serve-stale-data is set to 'no'."),
    ClusterError("TTL exhausted."),
    TryAgainError("Multiple keys request during rehashing of slot"),
    MovedError("3999 127.0.0.1:6381"),
    AskError("3999 127.0.0.1:6381"),
    SlotNotCoveredError("Slot 3999 not covered by the cluster."),
]


@pytest.mark.parametrize("error", FAILOVER, ids=lambda e: type(e).__name__)
def test_a_cluster_in_failover_is_unavailable(error: Exception) -> None:
    with pytest.raises(StoreUnavailable) as raised, guard():
        raise error
    assert raised.value.__cause__ is error
    assert type(error).__name__ in str(raised.value)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ConnectionError("Error 111 connecting"), "connection"),
        (ResponseError("NOREPLICAS x"), "refused"),
    ],
)
def test_connection_trouble_and_refusals_are_unavailable(error: Exception, kind: str) -> None:
    with pytest.raises(StoreUnavailable) as raised, guard():
        raise error
    assert raised.value.kind == kind


@pytest.mark.parametrize(
    "error",
    [
        ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"),
        CrossSlotTransactionError(
            "All keys involved in a cluster transaction must map to one slot"
        ),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_bug_passes_through(error: Exception) -> None:
    with pytest.raises(type(error)), guard():
        raise error
