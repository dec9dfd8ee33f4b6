"""Telemetry counters on both stores (SQLite file, real redis-server): impressions, clicks and
render errors per (page, template version, component, mode), added across replicas, read per
page or per version (`TelemetryStore.component_counts`, what the rollout guardrails read)."""

from __future__ import annotations

import pytest

from tests.helpers.stores import StoreFactory
from uiserver.engine.telemetry import ComponentCounts, CounterKey, render_errors
from uiserver.store.base import Store

pytestmark = pytest.mark.anyio


def _key(version: str, component: str, kind: str, mode: str = "standard") -> CounterKey:
    return CounterKey("home", version, component, mode, kind)  # type: ignore[arg-type]


async def test_counts_add_up_per_version_component_and_mode(make_store: StoreFactory) -> None:
    one, two = await make_store(), await make_store()
    assert await one.telemetry.component_counts("home") == []
    await one.telemetry.add_counts(
        {
            _key("v1", "banner", "impression"): 3,
            _key("v1", "banner", "click"): 1,
            _key("v1", "banner", "impression", "elderly"): 2,
            _key("v2", "banner", "render_error"): 4,
        }
    )
    await two.telemetry.add_counts({_key("v1", "banner", "impression"): 2})
    await two.telemetry.add_counts({CounterKey("cart", "v9", "pay", "unknown", "click"): 1})
    rows = await one.telemetry.component_counts("home")
    assert rows == [
        ComponentCounts("home", "v1", "banner", "elderly", impressions=2),
        ComponentCounts("home", "v1", "banner", "standard", impressions=5, clicks=1),
        ComponentCounts("home", "v2", "banner", "standard", render_errors=4),
    ]
    assert render_errors(rows) == {"v1": 0, "v2": 4}
    assert await two.telemetry.component_counts("home", "v2") == [rows[2]]
    assert await two.telemetry.component_counts("home", "v3") == []
    assert [r.clicks for r in await two.telemetry.component_counts("cart")] == [1]


async def test_counters_name_no_user_and_survive_erasure(store: Store) -> None:
    await store.telemetry.add_counts({_key("v1", "banner", "render_error"): 1})
    await store.users.erase_user("someone")
    assert [r.render_errors for r in await store.telemetry.component_counts("home")] == [1]


async def test_nothing_to_add_writes_nothing(store: Store) -> None:
    await store.telemetry.add_counts({})
    assert await store.telemetry.component_counts("home") == []
