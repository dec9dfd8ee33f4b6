"""The capability store on both backends: registered type lists shared by replicas and bounded,
kill switches, and launches per renderer version a day (bounded: later versions count as
`other`)."""

from __future__ import annotations

import pytest

from tests.helpers.stores import StoreFactory
from uiserver.engine.capability import KillSwitch
from uiserver.store import base
from uiserver.store.base import RegistryFull, Store

pytestmark = pytest.mark.anyio


async def test_type_lists_are_shared_and_bounded(
    make_store: StoreFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = await make_store(), await make_store()
    assert await one.capabilities.registered_types("0badf00d") is None
    await one.capabilities.register_types("0badf00d", frozenset({"a", "b"}))
    await one.capabilities.register_types("0badf00d", frozenset({"a", "b"}))  # idempotent
    assert await two.capabilities.registered_types("0badf00d") == frozenset({"a", "b"})
    for module in ("sqlite.capabilities", "redis.capabilities"):
        monkeypatch.setattr(f"uiserver.store.{module}.MAX_TYPE_LISTS", 1)
    with pytest.raises(RegistryFull):
        await two.capabilities.register_types("12345678", frozenset({"a"}))
    assert await two.capabilities.registered_types("12345678") is None
    assert base.MAX_TYPE_LISTS == 10_000


async def test_kill_switches_round_trip(store: Store) -> None:
    switch = KillSwitch("tab_bar", "2.0.0", "2.1.0", "crash", "ops", 1.0)
    await store.capabilities.put_kill_switch(switch)
    await store.capabilities.put_kill_switch(KillSwitch("ad_slot"))
    assert [k.type for k in await store.capabilities.kill_switches()] == ["ad_slot", "tab_bar"]
    assert (await store.capabilities.kill_switches())[1] == switch
    assert await store.capabilities.delete_kill_switch("tab_bar") is True
    assert await store.capabilities.delete_kill_switch("tab_bar") is False
    assert [k.type for k in await store.capabilities.kill_switches()] == ["ad_slot"]


async def test_renderer_launches_per_day_are_bounded(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    for module in ("sqlite.capabilities", "redis.capabilities"):
        monkeypatch.setattr(f"uiserver.store.{module}.MAX_RENDERERS_A_DAY", 2)
    await store.capabilities.note_renderers(100, {"1.0.0": 3, "2.0.0": 1})
    await store.capabilities.note_renderers(100, {"2.0.0": 1, "3.0.0": 5})
    await store.capabilities.note_renderers(101, {"3.0.0": 1})
    await store.capabilities.note_renderers(101, {})
    assert await store.capabilities.renderers(100) == {
        "1.0.0": 3,
        "2.0.0": 2,
        "3.0.0": 1,
        "other": 5,
    }
    assert await store.capabilities.renderers(101) == {"3.0.0": 1}
