"""What is stored about a user, as the user (and the operator) may read, change and erase it:
settings, the export, erasure, imported segments and the segments computed today.

Every write takes the erasure epoch read when its request began (`write_epoch`) and raises
ErasedMeanwhile if the user was erased since (`uiserver.store.base`, "Erasure is final"), so a
request in flight during an erase stores nothing. Store I/O raises StoreUnavailable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec

from uiserver.engine.plan import user_segments
from uiserver.policy import Policy
from uiserver.schema import Profile, Settings
from uiserver.serving.layouts import today
from uiserver.store.base import UserExport, UserStore
from uiserver.users.segments import IMPORT_BATCH, batches


class UserData:
    """One user's stored data through the store's user role.

    users = UserData(store, policy)
    epoch = await users.write_epoch("alice")
    await users.put_settings("alice", settings, epoch)
    """

    def __init__(self, store: UserStore, policy: Policy) -> None:
        self.store = store
        self.policy = policy

    async def write_epoch(self, user_id: str) -> int:
        """The user's erasure epoch now: read when a write request begins, passed to the write,
        so a request in flight during an erase stores nothing."""
        return await self.store.erasure_epoch(user_id)

    async def get_settings(self, user_id: str) -> Settings:
        """What was stored, or the defaults for a user never seen."""
        return await self.store.get_settings(user_id)

    async def put_settings(
        self, user_id: str, settings: Settings, epoch: int | None = None
    ) -> None:
        """Replace the whole settings object (`PUT`)."""
        await self.store.put_settings(user_id, settings, epoch)

    async def update_settings(
        self, user_id: str, update: Callable[[Settings], Settings], epoch: int | None = None
    ) -> Settings:
        """Read-modify-write of the settings in one store transaction (`PATCH`); what was
        stored."""
        return await self.store.update_settings(user_id, update, epoch)

    def segments_of(self, profile: Profile) -> list[str]:
        """Every segment the user is in today: imported + computed (sorted)."""
        return sorted(user_segments(profile, today(), self.policy))

    async def export(self, user_id: str) -> UserExport:
        """Everything stored about the user, with the segments they are in today
        (`segments`: imported; `computed_segments`: from the counters)."""
        data = await self.store.export_user(user_id)
        imported = frozenset(data.segments)
        profile = Profile(user_id=user_id, segments=imported, activity=data.activity)
        computed = [s for s in self.segments_of(profile) if s not in imported]
        return msgspec.structs.replace(data, computed_segments=computed)

    async def erase(self, user_id: str) -> None:
        """Delete everything stored about the user; their cache entries go with it (the store's
        invalidation)."""
        await self.store.erase_user(user_id)

    async def put_segments(self, assignments: Sequence[tuple[str, Sequence[str]]]) -> int:
        """Replace the segments of each user named (an operator's import); users written."""
        return await self.store.put_segments(assignments)

    async def import_segments(self, body: bytes, content_type: str = "") -> int:
        """An operator's import (`users.segments`): every item checked before the first write,
        then written `IMPORT_BATCH` users a transaction, yielding to the event loop between
        batches, and one `all` invalidation at the end (replicas drop their caches once, not
        once a batch). Returns the users written (each once, however often named).

        One bad item: DocumentError, nothing stored. A store failure between batches leaves
        the batches before it written (each one whole; send the import again: it replaces,
        so repeating it is harmless); every replica is still told to drop its caches."""
        parts = aiter(batches(body, content_type, IMPORT_BATCH))
        first = await anext(parts, None)  # every item is checked before the first batch
        second = await anext(parts, None) if first is not None else None
        if second is None:  # one transaction, each user invalidated (as for a small import)
            return await self.store.put_segments(first or [])
        assert first is not None
        seen: set[int] = set()  # hashes of the users written: ~60 bytes each, not their ids
        try:
            for batch in (first, second):
                await self.store.put_segments(batch, invalidation="none")
                seen.update(hash(user) for user, _ in batch)
            async for batch in parts:
                await self.store.put_segments(batch, invalidation="none")
                seen.update(hash(user) for user, _ in batch)
        finally:
            await self.store.put_segments([], invalidation="all")
        return len(seen)
