"""User profiles for serving: a bounded cache in front of the store, loaded race-free.

A profile is read once per user and kept until a user invalidation (from this process's writes
or another replica's) drops it. Concurrent loads of one user share one store read. A load in
flight when an invalidation for that user arrives may have read the old value: it is served
once but not cached (pub/sub and the reply travel on different connections, so either can
arrive first).
"""

from __future__ import annotations

from uiserver.datastructures import Coalescer
from uiserver.schema import Profile
from uiserver.serving.cache import ProfileCache, RequestMemo
from uiserver.store.base import UserStore


class ProfileLoader:
    """The profile cache (`cache`, read directly on the hot path) and its loads."""

    def __init__(self, store: UserStore, size: int, memo: RequestMemo) -> None:
        self.store = store
        self.cache = ProfileCache(size, memo)
        self.loads: Coalescer[str, Profile] = Coalescer()
        self._loading: set[str] = set()  # users whose store read is in flight
        self._raced: set[str] = set()  # ... and was invalidated meanwhile: do not cache it

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
        return profile

    def drop(self, user_id: str) -> None:
        """The user changed: forget the profile (the caller drops their memo entries)."""
        self.cache.pop(user_id, None)
        if user_id in self._loading:
            self._raced.add(user_id)

    def clear(self) -> None:
        """Everything may have changed: reload every profile."""
        self.cache.clear()
        self._raced |= self._loading
