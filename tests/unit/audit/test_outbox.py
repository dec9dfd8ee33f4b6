"""The outbox on both stores, against a real local HTTP receiver: two replicas delivering the
same hooks at once deliver each entry once, in order (the lease); a failure waits its backoff
(an injected clock) and keeps its place; filters move the cursor without sending."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from tests.helpers.receiver import Receiver, receiver
from tests.helpers.stores import NOW, StoreFactory
from uiserver.audit.outbox import MAX_BACKOFF_S, Outbox, backoff
from uiserver.store.base import AuditEntry, Store, Webhook
from uiserver.tasks import stop

__all__ = ["receiver"]
pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


async def append(store: Store, count: int, page: str = "home") -> None:
    for i in range(count):
        await store.audit.append(AuditEntry(0, NOW, "dora", "rollout.set", page, details={"i": i}))


def hook(url: str, **extra: object) -> Webhook:
    return Webhook("wh_1", url, "json", "whsec_k", NOW, "ada", **extra)  # type: ignore[arg-type]


def delivered_ids(receiver: Receiver) -> list[int]:
    return [json.loads(r.body)["entry"]["id"] for r in receiver.delivered()]


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [backoff(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff(40) == MAX_BACKOFF_S


async def test_two_replicas_deliver_each_entry_once_in_order(
    make_store: StoreFactory, receiver: Receiver
) -> None:
    one, two = await make_store(), await make_store()
    await one.webhooks.add_hook(hook(receiver.url))
    await append(one, 12)
    clock = Clock()
    outboxes = [Outbox(s.webhooks, s.audit, allow_private=True, clock=clock) for s in (one, two)]
    async with httpx.AsyncClient() as client:
        for _ in range(3):
            await asyncio.gather(*(o.deliver(client) for o in outboxes))
    assert delivered_ids(receiver) == list(range(1, 13))
    assert sum(o.sent for o in outboxes) == 12
    (stored,) = await two.webhooks.hooks()
    assert (stored.cursor, stored.delivered) == (12, 12)


async def test_a_failure_waits_its_backoff_and_keeps_its_place(
    store: Store, receiver: Receiver
) -> None:
    await store.webhooks.add_hook(hook(receiver.url))
    await append(store, 3)
    receiver.fail = 2
    clock = Clock()
    outbox = Outbox(store.webhooks, store.audit, allow_private=True, clock=clock)
    async with httpx.AsyncClient() as client:
        assert await outbox.deliver(client) == 0
        (state,) = await store.webhooks.hooks()
        assert (state.attempts, state.next_at, state.cursor) == (1, NOW + 1, 0)
        assert "HTTP 500" in state.last_error
        clock.now += 0.5
        assert await outbox.deliver(client) == 0
        assert len(receiver.received) == 1  # not yet: its backoff has not passed
        clock.now += 0.5
        assert await outbox.deliver(client) == 0  # the second failure: 2 s now
        (state,) = await store.webhooks.hooks()
        assert (state.attempts, state.next_at) == (2, clock.now + 2)
        clock.now += 2
        assert await outbox.deliver(client) == 3
    assert delivered_ids(receiver) == [1, 2, 3]
    (state,) = await store.webhooks.hooks()
    assert (state.attempts, state.cursor, state.last_error) == (0, 3, "")


async def test_filters_move_the_cursor_without_sending(store: Store, receiver: Receiver) -> None:
    await store.webhooks.add_hook(hook(receiver.url, pages=("cart",)))
    await append(store, 2, "home")
    await append(store, 1, "cart")
    outbox = Outbox(store.webhooks, store.audit, allow_private=True, clock=Clock())
    async with httpx.AsyncClient() as client:
        assert await outbox.deliver(client) == 1
    assert delivered_ids(receiver) == [3]
    (state,) = await store.webhooks.hooks()
    assert state.cursor == 3


async def test_an_unreachable_or_refused_address_is_a_failure(store: Store) -> None:
    await store.webhooks.add_hook(hook("http://127.0.0.1:9/x"))  # registered while allowed
    await append(store, 1)
    strict = Outbox(store.webhooks, store.audit, clock=Clock())
    async with httpx.AsyncClient() as client:
        assert await strict.deliver(client) == 0
        (state,) = await store.webhooks.hooks()
        assert "non-public" in state.last_error
        lax = Outbox(store.webhooks, store.audit, allow_private=True, clock=Clock())
        lax.clock.now += 20  # type: ignore[attr-defined]
        assert await lax.deliver(client) == 0  # the lease is the strict one's until it expires
        (state,) = await store.webhooks.hooks()
        assert state.attempts == 1
        lax.clock.now += 80  # type: ignore[attr-defined]
        assert await lax.deliver(client) == 0
        (state,) = await store.webhooks.hooks()
        assert state.attempts == 2 and "ConnectError" in state.last_error


async def test_a_stopped_outbox_hands_its_leases_on(
    make_store: StoreFactory, receiver: Receiver
) -> None:
    one, two = await make_store(), await make_store()
    await one.webhooks.add_hook(hook(receiver.url))
    await append(one, 1)
    clock = Clock()
    first = Outbox(one.webhooks, one.audit, allow_private=True, clock=clock)
    task = asyncio.create_task(first.run())
    await asyncio.to_thread(receiver.wait, lambda r: len(r.delivered()) == 1)
    assert await two.webhooks.lease("wh_1", "other", clock(), 30) is None  # held
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await two.webhooks.lease("wh_1", "other", clock(), 30) is not None


async def test_a_stop_that_comes_with_a_wake_up_still_stops_it(store: Store) -> None:
    """A new entry's wake-up and the shutdown's cancel in the same moment (a publish, then the
    server stops): the task must end. A single cancel was lost (the old shutdown waited for ever
    after it: a TestClient teardown timed out after 300 s in CI): on SQLite by the outbox's own
    `asyncio.wait_for` (Python 3.11 drops a cancel whose waited-for future is already done),
    on Redis by redis-py's reads (the same wait_for). Now the wait is an `asyncio.timeout` and
    the service stops its tasks with `uiserver.tasks.stop`, which cancels again. Each `delay`
    cancels at another step of the wake-up's way through the event loop."""
    for delay in range(6):
        outbox = Outbox(store.webhooks, store.audit, allow_private=True, clock=Clock(), poll=30.0)
        task = asyncio.create_task(outbox.run())
        for _ in range(50):  # until it waits for a wake-up (its first round found nothing)
            await asyncio.sleep(0.01)
        outbox.wake()
        for _ in range(delay):
            await asyncio.sleep(0)
        async with asyncio.timeout(10.0):
            await stop(task, every=0.2)
        assert task.cancelled(), delay
