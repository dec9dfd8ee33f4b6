"""The audit log on both stores (SQLite, a real Redis): ids monotonic and never reused, pages
newest first with a `next` that continues them, every filter, reads for delivery oldest first,
pruning by age; and webhooks' leases (one owner at a time) and cursors (never back)."""

from __future__ import annotations

import pytest

from tests.helpers.stores import NOW, StoreFactory
from uiserver.store.base import AuditEntry, AuditQuery, Progress, Store, Webhook

pytestmark = pytest.mark.anyio


def entry(act: str, page: str = "home", actor: str = "dora", at: float = NOW) -> AuditEntry:
    return AuditEntry(0, at, actor, act, page, {"version": "a"}, {"version": "b"}, {"n": 1})


async def fill(store: Store) -> list[AuditEntry]:
    rows = [
        entry("template.publish", "home", "dora", NOW),
        entry("rollout.set", "home", "ada", NOW + 10),
        entry("template.publish", "cart", "dora", NOW + 20),
        entry("segments.import", "", "ada", NOW + 30),
        entry("rollout.promote", "home", "dora", NOW + 40),
    ]
    return [await store.audit.append(row) for row in rows]


async def test_ids_are_monotonic_and_entries_come_back_whole(store: Store) -> None:
    stored = await fill(store)
    assert [e.id for e in stored] == [1, 2, 3, 4, 5]
    assert await store.audit.last_id() == 5
    page = await store.audit.entries(AuditQuery())
    assert page.entries == stored[::-1]
    assert page.next is None
    assert page.entries[0].before == {"version": "a"}
    assert page.entries[0].details == {"n": 1}


async def test_paging_continues_where_the_page_ended(store: Store) -> None:
    stored = await fill(store)
    first = await store.audit.entries(AuditQuery(limit=2))
    assert [e.id for e in first.entries] == [5, 4]
    assert first.next == 4
    second = await store.audit.entries(AuditQuery(limit=2, before=first.next))
    assert [e.id for e in second.entries] == [3, 2]
    third = await store.audit.entries(AuditQuery(limit=2, before=second.next or 0))
    assert [e.id for e in third.entries] == [1]
    assert third.next is None
    assert len(stored) == 5


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        (AuditQuery(page="home"), [5, 2, 1]),
        (AuditQuery(act="template.publish"), [3, 1]),
        (AuditQuery(actor="ada"), [4, 2]),
        (AuditQuery(since=NOW + 10, until=NOW + 40), [4, 3, 2]),
        (AuditQuery(page="home", actor="dora", since=NOW + 1), [5]),
        (AuditQuery(page="nowhere"), []),
    ],
)
async def test_filters(store: Store, query: AuditQuery, ids: list[int]) -> None:
    await fill(store)
    page = await store.audit.entries(query)
    assert [e.id for e in page.entries] == ids
    assert page.next is None


async def test_after_reads_oldest_first_for_delivery(store: Store) -> None:
    await fill(store)
    assert [e.id for e in await store.audit.after(2, 2)] == [3, 4]
    assert await store.audit.after(5, 10) == []


async def test_prune_by_age_and_ids_never_reused(make_store: StoreFactory) -> None:
    store = await make_store()
    await fill(store)
    assert await store.audit.prune(NOW + 25) == 3
    left = await store.audit.entries(AuditQuery())
    assert [e.id for e in left.entries] == [5, 4]
    assert await store.audit.prune(NOW + 1000) == 2
    again = await make_store()  # another process on the same data
    appended = await again.audit.append(entry("template.archive"))
    assert appended.id == 6
    assert await again.audit.last_id() == 6


@pytest.mark.redis
async def test_redis_filtered_read_stops_after_its_scan_budget(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from uiserver.store.redis import audit as redis_audit
    from uiserver.store.redis.store import RedisStore

    monkeypatch.setattr(redis_audit, "AUDIT_SCAN", 3)
    monkeypatch.setattr(redis_audit, "CHUNK", 3)
    store = RedisStore(redis_url)
    await store.open()
    try:
        for _ in range(6):
            await store.audit.append(entry("rollout.set"))
        await store.audit.append(entry("template.publish"))
        page = await store.audit.entries(AuditQuery(act="template.publish", before=7))
        assert page.entries == []
        assert page.next == 4  # nothing among 6, 5, 4: go on below 4
        rest = await store.audit.entries(AuditQuery(act="rollout.set", before=page.next))
        assert [e.id for e in rest.entries] == [3, 2, 1]
    finally:
        await store.close()


def hook(hook_id: str = "h1", created: float = NOW) -> Webhook:
    return Webhook(hook_id, "https://example.com/hook", "json", "s3cret", created, "ada")


async def test_webhooks_are_kept_and_deleted(store: Store) -> None:
    await store.webhooks.add_hook(hook("h2", NOW + 1))
    await store.webhooks.add_hook(hook("h1", NOW))
    assert [h.id for h in await store.webhooks.hooks()] == ["h1", "h2"]
    assert await store.webhooks.delete_hook("h1")
    assert not await store.webhooks.delete_hook("h1")
    assert [h.id for h in await store.webhooks.hooks()] == ["h2"]


async def test_one_owner_holds_a_lease_until_it_expires(make_store: StoreFactory) -> None:
    one, two = await make_store(), await make_store()
    await one.webhooks.add_hook(hook())
    leased = await one.webhooks.lease("h1", "replica-1", NOW, 30)
    assert leased is not None and leased.owner == "replica-1"
    assert await two.webhooks.lease("h1", "replica-2", NOW + 10, 30) is None
    assert await one.webhooks.lease("h1", "replica-1", NOW + 10, 30) is not None  # renewed
    taken = await two.webhooks.lease("h1", "replica-2", NOW + 41, 30)  # expired: taken over
    assert taken is not None and taken.owner == "replica-2"
    assert await one.webhooks.lease("missing", "replica-1", NOW, 30) is None


async def test_progress_needs_the_lease_and_never_moves_the_cursor_back(
    make_store: StoreFactory,
) -> None:
    one, two = await make_store(), await make_store()
    await one.webhooks.add_hook(hook())
    await one.webhooks.lease("h1", "replica-1", NOW, 30)
    assert await one.webhooks.progress("h1", "replica-1", Progress(cursor=5, delivered=5))
    assert not await two.webhooks.progress("h1", "replica-2", Progress(cursor=9, delivered=1))
    failed = await one.webhooks.progress(
        "h1",
        "replica-1",
        Progress(cursor=3, delivered=0, attempts=2, next_at=NOW + 4, last_error="500"),
    )
    assert failed
    (stored,) = await two.webhooks.hooks()
    assert (stored.cursor, stored.delivered, stored.attempts) == (5, 5, 2)
    assert (stored.next_at, stored.last_error) == (NOW + 4, "500")
    assert not await one.webhooks.progress("gone", "replica-1", Progress(1, 1))
