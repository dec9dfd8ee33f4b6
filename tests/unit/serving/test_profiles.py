"""`serving.profiles.ProfileLoader`: a cached profile is read again at most PROFILE_REFRESH_S
after it was read (events that move no plan input send no invalidation)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from uiserver.schema import Profile
from uiserver.serving.cache import RequestMemo
from uiserver.serving.profiles import PROFILE_REFRESH_S, ProfileLoader


class CountingStore:
    def __init__(self) -> None:
        self.reads = 0

    async def get_profile(self, user_id: str) -> Profile:
        self.reads += 1
        return Profile(user_id=user_id, evidence=float(self.reads))


def loader() -> tuple[ProfileLoader, CountingStore]:
    store = CountingStore()
    return ProfileLoader(store, 100, RequestMemo(100)), store  # type: ignore[arg-type]


def test_profiles_older_than_the_refresh_are_read_again() -> None:
    profiles, store = loader()

    async def scenario() -> None:
        await profiles.get("a")
        first_b = profiles.loaded.setdefault("b", 0.0)  # an entry with no cached profile
        assert first_b == 0.0
        await profiles.get("a")
        assert store.reads == 1
        read_at = profiles.loaded["a"]
        assert profiles.expire(read_at + PROFILE_REFRESH_S) == 0  # not yet
        assert profiles.expire(read_at + PROFILE_REFRESH_S + 1) == 1
        assert "a" not in profiles.cache and "b" not in profiles.loaded
        again = await profiles.get("a")
        assert store.reads == 2 and again.evidence == 2.0

    asyncio.run(scenario())


def test_dropped_and_cleared_profiles_leave_no_refresh_entry() -> None:
    profiles, _ = loader()

    async def scenario() -> None:
        await profiles.get("a")
        await profiles.get("b")
        profiles.drop("a")
        assert list(profiles.loaded) == ["b"]
        profiles.clear()
        assert profiles.loaded == {}

    asyncio.run(scenario())


def test_keep_refreshing_expires_on_its_period(monkeypatch: pytest.MonkeyPatch) -> None:
    profiles, _ = loader()
    calls: list[Any] = []

    def expire(now: float) -> int:
        calls.append(now)
        return 0

    monkeypatch.setattr(profiles, "expire", expire)

    async def scenario() -> None:
        task = asyncio.create_task(profiles.keep_refreshing(every=0.01))
        # until two periods ran (a fixed 50 ms sleep saw one on a loaded machine), 30 s at most
        for _ in range(3000):
            if len(calls) >= 2:
                break
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(scenario())
    assert len(calls) >= 2
