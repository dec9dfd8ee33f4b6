"""The audit log's own behaviour: an entry the store could not take is counted and logged,
never raised (the act stands); pruning keeps running through a failing store; the outbox keeps
running through one too, and reads at most `ANSWER_MAX` bytes of an answer."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.helpers.app import free_port
from tests.helpers.receiver import Receiver, receiver
from tests.helpers.stores import NOW
from uiserver.audit import outbox as outbox_module
from uiserver.audit.log import AuditLog
from uiserver.audit.outbox import Outbox
from uiserver.store.base import AuditQuery, Store, Webhook
from uiserver.store.redis.store import RedisStore

__all__ = ["receiver"]
pytestmark = pytest.mark.anyio


def down() -> RedisStore:
    """A store whose Redis is not there: every call raises StoreUnavailable."""
    return RedisStore(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2)


async def test_an_entry_the_store_refuses_is_counted_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    audit = AuditLog(down().audit)
    heard: list[object] = []
    audit.listeners.append(heard.append)
    assert await audit.record("template.archive", "dora", "home") is None
    assert audit.lost == 1 and heard == []
    assert "audit entry template.archive on 'home' by dora not recorded" in caplog.text


async def test_pruning_by_retention_keeps_going(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    now = [NOW]
    audit = AuditLog(store.audit, retention=100.0, clock=lambda: now[0])
    await audit.record("draft.create", "dora", "home")
    now[0] += 50
    await audit.record("draft.discard", "dora", "home")
    now[0] += 60  # the first is 110 s old, the second 60 s
    task = asyncio.create_task(audit.keep_pruning(every=0.01))
    for _ in range(100):
        if len((await audit.entries(AuditQuery())).entries) == 1:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [e.act for e in (await audit.entries(AuditQuery())).entries] == ["draft.discard"]
    failing = asyncio.create_task(AuditLog(down().audit).keep_pruning(every=0.01))
    await asyncio.sleep(0.3)
    failing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await failing
    assert "audit log not pruned" in caplog.text


async def test_the_outbox_keeps_running_through_a_failing_store(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = down()
    outbox = Outbox(broken.webhooks, broken.audit, poll=0.01)
    outbox.wake()  # before it runs: nothing to wake
    task = asyncio.create_task(outbox.run())
    await asyncio.sleep(0.3)
    outbox.wake()
    await asyncio.to_thread(outbox.wake)  # from another thread: handed to its loop
    await asyncio.sleep(0.05)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert "webhook delivery paused: the store is unavailable" in caplog.text


async def test_a_long_answer_is_read_no_further_than_the_limit(
    store: Store, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_module, "ANSWER_MAX", 1024)
    receiver.answer = b"x" * 200_000  # a receiver that talks too much
    await store.webhooks.add_hook(Webhook("wh_1", receiver.url, "json", "k" * 16, NOW, "ada"))
    await AuditLog(store.audit).record("draft.create", "dora", "home")
    outbox = Outbox(store.webhooks, store.audit, allow_private=True)
    async with httpx.AsyncClient() as client:
        assert await outbox.deliver(client) == 1
