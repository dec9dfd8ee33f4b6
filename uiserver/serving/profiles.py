"""User profiles for serving: a bounded cache in front of the store, loaded race-free.

A profile is read once per user and kept until a user invalidation (from this process's writes
or another replica's) drops it, or for at most PROFILE_REFRESH_S: an events batch that changes
nothing a plan reads sends no invalidation (`engine.served_inputs`), so a cached profile may
lag the stored one by scores that move no layout; the refresh bounds how long. Concurrent loads
of one user share one store read. A load in flight when an invalidation for that user arrives
may have read the old value: it is served once but not cached (pub/sub and the reply travel on
different connections, so either can arrive first).
"""

from __future__ import annotations

import asyncio
import time

from uiserver.datastructures import Coalescer
from uiserver.schema import Profile
from uiserver.serving.cache import ProfileCache, RequestMemo
from uiserver.store.base import UserStore

# Seconds a cached profile is served before it is read again, whatever it was told (see the
# module docstring). Five minutes: one extra store read per active user every five minutes.
PROFILE_REFRESH_S = 300.0


class ProfileLoader:
    """The profile cache (`cache`, read directly on the hot path) and its loads."""

    def __init__(self, store: UserStore, size: int, memo: RequestMemo) -> None:
        self.store = store
        self.cache = ProfileCache(size, memo)
        self.loads: Coalescer[str, Profile] = Coalescer()
        self._loading: set[str] = set()  # users whose store read is in flight
        self._raced: set[str] = set()  # ... and was invalidated meanwhile: do not cache it
        self.loaded: dict[str, float] = {}  # user -> monotonic time read, oldest first

    async def get(self, user_id: str) -> Profile:
        """The cached profile, else one (coalesced) store read. Raises StoreUnavailable."""
        cached = self.cache.get(user_id)
        if cached is not None:
            return cached
        return await self.loads.run(user_id, lambda: self._load(user_id))

    async def _load(self, user_id: str) -> Profile:
        self._loading.add(user_id)
        try:
            profile = await self.store.get_profile(user_id)
        except BaseException:
            self._raced.discard(user_id)
            raise
        finally:
            self._loading.discard(user_id)
        if user_id in self._raced:
            self._raced.discard(user_id)
        else:
            self.cache[user_id] = profile
            self.loaded.pop(user_id, None)
            self.loaded[user_id] = time.monotonic()
        return profile

    async def keep_refreshing(self, every: float = PROFILE_REFRESH_S / 10) -> None:
        """Expire old profiles every `every` seconds, until cancelled (`Service.start`)."""
        while True:
            await asyncio.sleep(every)
            self.expire(time.monotonic())

    def expire(self, now: float, refresh: float = PROFILE_REFRESH_S) -> int:
        """Forget the profiles read more than `refresh` seconds before `now` (monotonic) and
        their memo entries; the next serve reads them again. Returns how many."""
        loaded, expired = self.loaded, 0
        while loaded:
            user_id, at = next(iter(loaded.items()))
            if now - at <= refresh:
                break
            del loaded[user_id]
            if user_id in self.cache:
                self.cache.evict(user_id)
                expired += 1
        return expired

    def drop(self, user_id: str) -> None:
        """The user changed: forget the profile (the caller drops their memo entries)."""
        self.cache.pop(user_id, None)
        self.loaded.pop(user_id, None)
        if user_id in self._loading:
            self._raced.add(user_id)

    def clear(self) -> None:
        """Everything may have changed: reload every profile."""
        self.cache.clear()
        self.loaded.clear()
        self._raced |= self._loading
