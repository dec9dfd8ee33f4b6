"""`LivePages`: each page's live version compiled once, kept in step with the store by
invalidations (`mark_dirty`, `mark_all`) and `sync()`; which keys events count under; which
version of a staged rollout a user gets."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from tests.helpers.units import (
    AUTHOR,
    FakeClock,
    FlakyStore,
    Publishing,
    publishing,
    publishing_parts,
    template,
)
from uiserver.catalog import template_to_json, template_version
from uiserver.engine.allocation import Allocation, initial
from uiserver.engine.hashing import BUCKETS, rollout_bucket
from uiserver.schema import Template
from uiserver.serving import breaker as breaker_module
from uiserver.serving.pages import UnknownPage
from uiserver.store.base import PublishOptions, StoreUnavailable

pytestmark = pytest.mark.anyio

V1 = template("home")
V2 = template("home", title="Home, second edition")


async def store_publish(store: FlakyStore, page: Template, message: str = "") -> str:
    """Publish through the store alone, as another process does: these live pages are told
    nothing (the tests call `mark_dirty` / `mark_all` as the invalidation listener would)."""
    version = template_version(page)
    await store.templates.publish(page.page, version, template_to_json(page), AUTHOR, message, 1.0)
    return version


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[Publishing]:
    async with publishing(tmp_path) as made:
        for page in (V1, template("cart"), template("me")):
            await store_publish(made.store, page)
        await made.live.reload()
        yield made


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The store breaker's monotonic clock, moved by hand."""
    fake = FakeClock()
    monkeypatch.setattr(breaker_module, "time", fake)
    return fake


# ------------------------------------------------------------------ reload, page()


async def test_reload_compiles_every_live_page(parts: Publishing) -> None:
    assert sorted(parts.live.pages) == ["cart", "home", "me"]
    home = parts.live.page("home")
    assert home.record.version == template_version(V1)
    assert home.template == V1
    assert home.compiled.version == home.record.version
    assert home.served_key == ("home", template_version(V1))


@pytest.mark.parametrize(
    "page",
    [
        pytest.param("nowhere", id="never-published"),
        pytest.param("me", id="archived"),
    ],
)
async def test_page_raises_unknown_page_for_an_unknown_or_archived_page(
    parts: Publishing, page: str
) -> None:
    await parts.store.templates.archive("me", AUTHOR, 2.0)
    parts.live.mark_dirty("me")
    assert await parts.live.sync()
    with pytest.raises(UnknownPage) as unknown:
        parts.live.page(page)
    assert unknown.value.page == page
    assert parts.live.archived == {"me"}


async def test_a_full_reload_leaves_archived_pages_out(parts: Publishing) -> None:
    await parts.store.templates.archive("cart", AUTHOR, 2.0)
    await parts.live.reload()
    assert sorted(parts.live.pages) == ["home", "me"]
    assert parts.live.archived == {"cart"}


# ------------------------------------------------------------------ sync, mark_dirty, mark_all


async def test_sync_with_nothing_marked_does_not_read_the_store(parts: Publishing) -> None:
    await store_publish(parts.store, V2)
    reads = parts.store.calls["states"]

    assert await parts.live.sync()

    assert parts.store.calls["states"] == reads
    assert parts.live.page("home").record.version == template_version(V1)


async def test_sync_with_nothing_marked_is_current_even_while_the_store_fails(
    parts: Publishing, clock: FakeClock
) -> None:
    """A failing store (the breaker open) makes nothing degraded when no reload is due."""
    parts.breaker.failed(StoreUnavailable("profile read failed"))
    assert await parts.live.sync() is True


async def test_mark_dirty_reloads_that_page_on_the_next_sync(parts: Publishing) -> None:
    cart = parts.live.page("cart")
    v2 = await store_publish(parts.store, V2)

    parts.live.mark_dirty("home")
    assert parts.live.page("home").record.version == template_version(V1)  # not before sync
    assert await parts.live.sync()

    assert parts.live.page("home").record.version == v2
    assert parts.live.page("cart") is cart
    assert parts.live.dirty == set()


async def test_mark_all_revalidates_every_page_and_keeps_unchanged_ones_compiled(
    parts: Publishing,
) -> None:
    cart = parts.live.page("cart")
    v2 = await store_publish(parts.store, V2)

    parts.live.mark_all()
    assert await parts.live.sync()

    assert parts.live.page("home").record.version == v2
    assert parts.live.page("cart").compiled is cart.compiled  # memo entries stay valid
    assert parts.live.reload_all is False


async def test_republishing_the_same_content_keeps_the_compiled_template(
    parts: Publishing,
) -> None:
    compiled = parts.live.page("home").compiled
    await store_publish(parts.store, V2)
    await parts.publisher.rollback("home", template_version(V1), AUTHOR)
    again = parts.live.page("home")
    assert again.record.seq == 3
    assert again.compiled is compiled  # same version: held, not compiled again


async def test_a_sync_while_the_store_is_down_keeps_serving_and_retries_later(
    parts: Publishing, clock: FakeClock
) -> None:
    v2 = await store_publish(parts.store, V2)
    parts.live.mark_dirty("home")
    parts.store.down = True

    assert await parts.live.sync() is False
    assert parts.live.page("home").record.version == template_version(V1)
    assert not parts.breaker.healthy

    parts.store.down = False
    asked = parts.store.calls["states"]
    assert await parts.live.sync() is False  # within the breaker's retry period
    assert parts.store.calls["states"] == asked  # ... the store is not asked

    clock.advance(breaker_module.STORE_RETRY_SECONDS)
    assert await parts.live.sync() is True
    assert parts.live.page("home").record.version == v2
    assert parts.breaker.healthy


@pytest.mark.parametrize(
    "failing",
    [
        pytest.param("reload", id="full-reload"),
        pytest.param("reload_page", id="one-page"),
    ],
)
async def test_a_failed_reload_keeps_what_is_still_to_do(parts: Publishing, failing: str) -> None:
    v2 = await store_publish(parts.store, V2)
    parts.live.mark_dirty("home")
    parts.store.down = True
    with pytest.raises(StoreUnavailable):
        if failing == "reload":
            await parts.live.reload()
        else:
            await parts.live.reload_page("home")
    assert "home" in parts.live.dirty
    assert parts.live.reload_all is (failing == "reload")

    parts.store.down = False
    assert await parts.live.sync()
    assert parts.live.page("home").record.version == v2


async def test_a_store_that_lost_its_pages_does_not_take_them_down(
    parts: Publishing, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Templates are never deleted: an empty store (a Redis restarted without persistence)
    is an error to log, not a reason to stop serving."""
    held = dict(parts.live.pages)
    empty = FlakyStore(tmp_path / "empty" / "uiserver.db")
    await empty.open()
    parts.live.templates = empty.templates
    try:
        with caplog.at_level(logging.ERROR, logger="uiserver"):
            await parts.live.reload()
            await parts.live.reload_page("home")
    finally:
        await empty.close()
    assert parts.live.pages == held
    assert "lost the live templates of cart, home, me" in caplog.text


async def test_restore_puts_the_last_known_good_versions_back_in_the_store(
    parts: Publishing, tmp_path: Path
) -> None:
    """The lost pages are republished with the version, author and message served; a page the
    store has again meanwhile (files published by another replica) is left as it is."""
    held = dict(parts.live.pages)
    empty = FlakyStore(tmp_path / "empty" / "uiserver.db")
    await empty.open()
    parts.live.templates = empty.templates
    try:
        await parts.live.reload()
        assert parts.live.lost == set(held)
        cart = held["cart"].record
        await empty.templates.publish("cart", "elsewhere", cart.document, "bob", "files", 1.0)
        await parts.live.restore()
        assert parts.live.lost == set()
        states = await empty.templates.states()
    finally:
        await empty.close()
    assert states["cart"].head.version == "elsewhere"
    for page in set(held) - {"cart"}:
        record = held[page].record
        head = states[page].head
        assert (head.version, head.author, head.message) == (
            record.version,
            record.author,
            record.message,
        )
        assert head.document == record.document and head.source == record.source


# ------------------------------------------------------------------ event_key

HOME = {c.id: c for c in V1.components}


@pytest.mark.parametrize(
    ("page", "component", "expected"),
    [
        pytest.param("home", "coupons", ("coupons", "stored"), id="category-key"),
        pytest.param(
            "home", "back_to_top", ("home/back_to_top", "stored"), id="uncategorised-page-key"
        ),
        pytest.param("home", "footer", (None, "not_interactive"), id="footer-note"),
        pytest.param("home", "fresh_title", (None, "not_interactive"), id="section-title"),
        pytest.param("home", "no_such_thing", (None, "unknown_component"), id="unknown-id"),
        pytest.param("nowhere", "coupons", (None, "unknown_page"), id="unknown-page"),
        pytest.param("me", "coupons", (None, "unknown_page"), id="archived-page"),
    ],
)
async def test_event_key_says_what_an_event_counts_under_or_why_not(
    parts: Publishing, page: str, component: str, expected: tuple[str | None, str]
) -> None:
    await parts.publisher.archive("me", AUTHOR)
    assert parts.live.event_key(page, component) == expected


def test_the_event_key_table_names_real_components() -> None:
    """The table above means what it says about the shipped home page."""
    assert HOME["coupons"].category == "coupons"
    assert HOME["back_to_top"].category is None
    assert HOME["footer"].type == "footer_note" and HOME["fresh_title"].type == "section_title"


async def test_during_a_rollout_events_on_either_version_count(parts: Publishing) -> None:
    without_coupons = msgspec.structs.replace(
        V1,
        components=[c for c in V1.components if c.id not in ("coupons", "footer")],
        experiment=None,
        variants=[],
    )
    await parts.publisher.publish(
        "home", without_coupons, AUTHOR, "staged", PublishOptions(rollout=50)
    )
    assert parts.live.event_key("home", "coupons") == ("coupons", "stored")
    assert parts.live.event_key("home", "footer") == (None, "not_interactive")

    await parts.publisher.end_rollout("home", "promote", AUTHOR)
    assert parts.live.event_key("home", "coupons") == (None, "unknown_component")
    assert parts.live.event_key("home", "footer") == (None, "unknown_component")


# ------------------------------------------------------------------ rollout picking

USERS = [f"user-{i}" for i in range(2_000)]


async def test_a_rollout_picks_the_new_version_by_rollout_bucket(parts: Publishing) -> None:
    await parts.publisher.publish("home", V2, AUTHOR, "staged", PublishOptions(rollout=30))
    live = parts.live.page("home")
    assert live.previous is not None

    picked = {user: live.pick(user) for user in USERS}

    new = {user for user, got in picked.items() if got is live}
    assert new == {u for u in USERS if rollout_bucket("home", u) < 30 * BUCKETS // 100}
    assert all(picked[u] is live.previous for u in USERS if u not in new)
    assert live.pick("") is live.previous  # anonymous callers keep the old version


async def test_widening_a_rollout_keeps_everyone_on_the_new_version(parts: Publishing) -> None:
    await parts.publisher.publish("home", V2, AUTHOR, "staged", PublishOptions(rollout=10))
    narrow = parts.live.page("home")
    before = {u for u in USERS if narrow.pick(u) is narrow}

    await parts.publisher.set_rollout("home", 60, AUTHOR)
    wide = parts.live.page("home")
    after = {u for u in USERS if wide.pick(u) is wide}

    assert before < after
    await parts.publisher.set_rollout("home", 100, AUTHOR)
    full = parts.live.page("home")
    assert all(full.pick(u) is full for u in ["", *USERS[:50]])


async def test_without_a_rollout_everyone_gets_the_live_version(parts: Publishing) -> None:
    live = parts.live.page("home")
    assert live.rollout is None
    assert {id(live.pick(u)) for u in ["", *USERS[:50]]} == {id(live)}


# ------------------------------------------------------------------ bucket allocations


def _weighted(weights: list[int]) -> Template:
    variants = [
        msgspec.structs.replace(v, weight=w) for v, w in zip(V1.variants, weights, strict=True)
    ]
    return msgspec.structs.replace(V1, variants=variants)


async def test_every_process_serves_the_stored_allocation(
    parts: Publishing, tmp_path: Path
) -> None:
    """After an edit the stored allocation (an edit of the first) is served, not the initial
    allocation of the new weights; another process on the same store serves the same one."""
    await store_publish(parts.store, _weighted([50, 60]))
    await parts.live.reload()
    live = parts.live.page("home")
    stored = Allocation.decode(live.record.allocation)
    assert live.compiled.allocation is not None
    assert live.compiled.allocation.table == stored.table
    assert V1.experiment is not None
    fresh = initial(V1.experiment, tuple((v.name, v.weight) for v in _weighted([50, 60]).variants))
    assert stored.table != fresh.table  # an edit of the 50/50 table, not a new table
    other = publishing_parts(parts.store)  # a second process: its own engine and live pages
    await other.live.reload()
    twin = other.live.page("home").compiled.allocation
    assert twin is not None and twin.table == stored.table


async def test_a_new_entry_of_a_held_version_serves_its_own_allocation(
    parts: Publishing,
) -> None:
    """V1 kept by the others during a rollout of V2, then republished (promoting V2 first):
    the new V1 entry's allocation is an edit of V2's, and the live page serves it although
    V1 was compiled already."""
    staged = _weighted([90, 10])
    await parts.publisher.publish("home", staged, AUTHOR, "staged", PublishOptions(rollout=50))
    held = parts.live.page("home").previous
    assert held is not None and held.record.version == template_version(V1)
    await parts.publisher.publish("home", V1, AUTHOR, "back", PublishOptions(running="promote"))
    live = parts.live.page("home")
    assert live.record.version == template_version(V1)
    assert live.record.allocation != held.record.allocation
    assert live.compiled is not held.compiled and live.compiled.allocation is not None
    assert live.compiled.allocation.table == Allocation.decode(live.record.allocation).table
    assert live.compiled.views is held.compiled.views  # the rest is not compiled again
