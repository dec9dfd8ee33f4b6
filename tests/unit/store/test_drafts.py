"""Designers' drafts on both stores (SQLite file, real redis-server): one per (designer, page),
replaced on save, shared between processes on the same data, untouched by user erasure."""

from __future__ import annotations

import pytest

from tests.helpers.stores import NOW, StoreFactory
from uiserver.store.base import DraftRecord, Store

pytestmark = pytest.mark.anyio


async def test_drafts_round_trip_per_author_and_page(store: Store) -> None:
    assert await store.drafts.get_draft("dora", "home") is None
    await store.drafts.put_draft(DraftRecord("dora", "home", "{ half", "v1", NOW))
    await store.drafts.put_draft(DraftRecord("dora", "cart", "{}", "v2", NOW + 1))
    await store.drafts.put_draft(DraftRecord("erik", "home", "erik's", "v1", NOW + 2))
    await store.drafts.put_draft(DraftRecord("dora", "home", "{ whole }", "v3", NOW + 3))
    assert await store.drafts.get_draft("dora", "home") == DraftRecord(
        "dora", "home", "{ whole }", "v3", NOW + 3
    )
    assert [d.page for d in await store.drafts.drafts("dora")] == ["cart", "home"]
    assert [d.text for d in await store.drafts.drafts("erik")] == ["erik's"]
    assert await store.drafts.delete_draft("dora", "home") is True
    assert await store.drafts.delete_draft("dora", "home") is False
    assert await store.drafts.get_draft("dora", "home") is None
    assert (await store.drafts.get_draft("erik", "home")) is not None


async def test_drafts_are_shared_and_survive_erasure(make_store: StoreFactory) -> None:
    one, two = await make_store(), await make_store()
    await one.drafts.put_draft(DraftRecord("dora", "me", "text 中文", "v1", NOW))
    assert (await two.drafts.get_draft("dora", "me")) == DraftRecord(
        "dora", "me", "text 中文", "v1", NOW
    )
    await two.users.erase_user("dora")  # a user who happens to share the id: not a designer's draft
    assert (await one.drafts.get_draft("dora", "me")) is not None
