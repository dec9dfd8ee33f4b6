"""The server's side of capability negotiation (`engine.capability`): a client's declared value
-> the set of types it may be sent, the operators' kill switches kept current, and launches per
renderer version counted cheaply.

Memory is bounded: parsed values, resolved sets and known type lists are bounded dicts keyed by
the canonical capability or hash (a client cannot grow them with spaces or junk keys); the
renderer counts are one integer per version between two writes (at most `MAX_PENDING`
versions, the rest count as `other`). A resolved set depends on the kill switches, so a switch
change (an `all` invalidation, from any replica) clears them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping

from uiserver.datastructures import BoundedDict
from uiserver.engine.capability import (
    Capability,
    CapabilityError,
    KillSwitch,
    default_types,
    drawable,
    format_version,
    parse_capability,
    types_hash,
)
from uiserver.schema import ComponentType
from uiserver.store.base import CapabilityStore, StoreUnavailable

log = logging.getLogger("uiserver")
MAX_PENDING = 64  # renderer versions counted between two writes
# New type lists an anonymous caller may register, per process: ANONYMOUS_BURST at once, then
# one every 60 / ANONYMOUS_PER_MINUTE seconds. A mini-program release has one list, registered
# once by the first launch that needs it, so real traffic is a handful a day; the bound keeps
# a script without a token from filling the store's MAX_TYPE_LISTS (10,000) in seconds (at this
# rate: over 8 hours for one process). Lists already registered cost nothing and are not
# counted; signed-in callers are not limited here (their token names them).
ANONYMOUS_PER_MINUTE = 20
ANONYMOUS_BURST = 20


class RegistrationsLimited(Exception):
    """An anonymous caller's new type list past the per-process budget: 429 at the edge, with
    `retry_after` (whole seconds until the next one is taken)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "too many new type lists from anonymous callers; send a token, or retry after "
            f"{retry_after} s"
        )
        self.retry_after = retry_after


class Budget:
    """A token bucket: `burst` at once, refilled at `per_minute`; `take` raises
    RegistrationsLimited when empty. Monotonic seconds from `clock`."""

    def __init__(
        self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.tokens = float(burst)
        self.clock = clock
        self.at = clock()

    def take(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1.0:
            raise RegistrationsLimited(max(1, math.ceil((1.0 - self.tokens) / self.rate)))
        self.tokens -= 1.0


class UnknownTypes(LookupError):
    """A types hash this server was never told about: the client registers its list
    (`POST /v1/capabilities`) and asks again (428 at the edge)."""

    def __init__(self, capability: Capability) -> None:
        super().__init__(f"types hash {capability.types} is not registered")
        self.capability = capability


class Capabilities:
    """Capability values -> drawable type sets, for one process.

    caps = Capabilities(catalog.types, store.capabilities)
    key, can_draw = await caps.resolve("r=2.1.0;t=ab12cd34")   # CapabilityError, UnknownTypes
    """

    def __init__(
        self,
        catalog: Mapping[str, ComponentType],
        store: CapabilityStore,
        flush_s: float = 1.0,
        poll: Callable[[], None] = lambda: None,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self._poll = poll  # delivers other replicas' invalidations (a kill switch) first
        self.flush_s = flush_s
        self.kills: tuple[KillSwitch, ...] = ()
        self._kills_stale = True
        self._parsed: BoundedDict[str, Capability | CapabilityError] = BoundedDict(1024)
        self._resolved: BoundedDict[str, frozenset[str]] = BoundedDict(1024)
        self._known: BoundedDict[str, frozenset[str]] = BoundedDict(1024)
        self._defaults: BoundedDict[tuple[int, int, int], str] = BoundedDict(256)
        self._pending: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self.anonymous = Budget(ANONYMOUS_PER_MINUTE, ANONYMOUS_BURST)

    def parse(self, raw: str) -> Capability:
        """The value parsed (memoized by its text); CapabilityError."""
        found = self._parsed.get(raw)
        if found is None:
            try:
                found = parse_capability(raw)
            except CapabilityError as exc:
                found = exc
            if len(raw) <= 64:  # only short values are kept: junk cannot fill memory
                self._parsed[raw] = found
        if isinstance(found, CapabilityError):
            raise found
        return found

    async def resolve(self, raw: str) -> tuple[str, frozenset[str]]:
        """(the canonical capability, the types the client may be sent). CapabilityError for a
        malformed value, UnknownTypes for a hash never registered; StoreUnavailable."""
        capability = self.parse(raw)
        self.note(capability)
        self._poll()
        if self._kills_stale:
            await self.reload()
        key = capability.key
        found = self._resolved.get(key)
        if found is None:
            registered = await self._registered(capability)
            found = drawable(self.catalog, capability.renderer, registered, self.kills)
            self._resolved[key] = found
        return key, found

    async def _registered(self, capability: Capability) -> frozenset[str] | None:
        digest = capability.types
        if digest is None or digest == self.default_hash(capability.renderer):
            return None
        known = self._known.get(digest)
        if known is None:
            known = await self.store.registered_types(digest)
            if known is None:
                raise UnknownTypes(capability)
            self._known[digest] = known
        return known

    def default_hash(self, renderer: tuple[int, int, int]) -> str:
        """The hash of the types an SDK of that version registers by default."""
        found = self._defaults.get(renderer)
        if found is None:
            found = self._defaults[renderer] = types_hash(default_types(self.catalog, renderer))
        return found

    async def register(
        self, renderer: str, types: Iterable[str], *, anonymous: bool = False
    ) -> Capability:
        """Remember a client's type list (the catalogue types in it) under its hash; the
        capability value it sends from now on. `anonymous`: a caller without a token, whose
        new lists are bounded by the process's budget (RegistrationsLimited); a list already
        known (registered, or the version's default) is answered without a write.
        CapabilityError, RegistryFull, StoreUnavailable."""
        listed = list(types)
        capability = Capability(parse_capability(f"r={renderer}").renderer, types_hash(listed))
        drawn = frozenset(t for t in listed if t in self.catalog)
        if anonymous:
            digest = str(capability.types)
            if digest == self.default_hash(capability.renderer) or digest in self._known:
                return capability
            if await self.store.registered_types(digest) is not None:
                return capability
            self.anonymous.take()
        await self.store.register_types(str(capability.types), drawn)
        self._known[str(capability.types)] = drawn
        return capability

    async def reload(self) -> None:
        """Read the kill switches (at start, and after an `all` invalidation)."""
        self.kills = tuple(await self.store.kill_switches())
        self._kills_stale = False
        self._resolved.clear()

    def heard(self) -> None:
        """An `all` invalidation: a kill switch may have changed on any replica."""
        self._kills_stale = True
        self._resolved.clear()

    # ------------------------------------------------------------------ renderers seen

    def note(self, capability: Capability) -> None:
        """Count a launch of this renderer version; written in the background."""
        version = format_version(capability.renderer)
        pending = self._pending
        if version not in pending and len(pending) >= MAX_PENDING:
            version = "other"
        pending[version] = pending.get(version, 0) + 1
        if self._task is None:
            with contextlib.suppress(RuntimeError):  # no loop: the next flush writes it
                self._task = asyncio.get_running_loop().create_task(self._later())

    async def _later(self) -> None:
        try:
            await asyncio.sleep(self.flush_s)
        finally:
            self._task = None
        await self.flush()

    async def flush(self) -> None:
        """Write the launches counted so far (lost, with a warning, when the store fails)."""
        pending, self._pending = self._pending, {}
        if not pending:
            return
        try:
            await self.store.note_renderers(int(time.time() // 86_400), pending)
        except StoreUnavailable as exc:
            log.warning("renderer counts not written: %s", exc)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
        await self.flush()
