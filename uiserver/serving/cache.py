"""Layout caching: encoded bodies by fingerprint, and a per-request memo in front of them.

Two bounded levels (sizes are settings, so memory stays bounded whatever the number of users):

- `bodies` (cachetools LRU, read only on a memo miss): fingerprint of everything a layout
  depends on -> encoded body + ETag (+ gzip). Shared by every user whose inputs give the same
  plan; never keyed by user id.
- `requests` (a BoundedDict, read on every warm GET): (user, page, context key) -> the body
  served last time, with the exact template and profile objects it was computed from. A hit is
  valid only while both are still the current objects (identity check), so a publish or a
  profile write is visible on the very next request without scanning the cache.

cachetools is not thread-safe; everything here runs on one event loop thread.
"""

from __future__ import annotations

import gzip
import hashlib
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache

if TYPE_CHECKING:  # annotations only: this module stays free of the engine at runtime
    from uiserver.engine import CompiledTemplate, Plan
    from uiserver.engine.plan import SharedKey
    from uiserver.schema import Profile

from uiserver.datastructures import BoundedDict

GZIP_MIN_BYTES = 1024


@dataclass(slots=True, weakref_slot=True)  # weakly indexed while personal (`LayoutCache`)
class BodyEntry:
    """An encoded layout ready to send: body, quoted strong ETags of its identity and gzip
    representations (each its own, RFC 9110 8.8.3), gzip made on first demand."""

    body: bytes
    etag: bytes
    etag_gz: bytes = b""
    _gzipped: bytes | None = field(default=None, repr=False)
    # What the HTTP edge answers with this body, computed once per representation and kept
    # here (`http.layouts.Ready`): headers, ETag and Content-Length are per body, not per
    # request. Indexed by the edge's choice: gzip + 2 * degraded.
    ready: list[Any] = field(default_factory=lambda: [None] * 4, repr=False, compare=False)

    @classmethod
    def of(cls, body: bytes) -> BodyEntry:
        digest = hashlib.blake2b(body, digest_size=12).hexdigest()
        return cls(body, f'"{digest}"'.encode(), f'"{digest}-gz"'.encode())

    def gzipped(self) -> bytes:
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.body, compresslevel=6, mtime=0)
        return self._gzipped

    @property
    def compressible(self) -> bool:
        return len(self.body) >= GZIP_MIN_BYTES


@dataclass(slots=True, weakref_slot=True)  # weakly referenced by the RSGI edge's table
class RequestEntry:
    """What a (user, page, query) got last time, and the inputs it is only valid with."""

    compiled: CompiledTemplate  # the object it was made from (identity is checked)
    profile: Profile  # the object it was made from (identity is checked)
    day: int
    entry: BodyEntry
    # The staged rollout it was served under (identity is checked): a step of a rollout is a
    # new split whose arms are counted anew, so every user is noted once per step.
    rollout: object = None


# (user id, page, `serving.context.context_key`): unknown query parameters are in no key, and
# each part is bounded (128-character user ids, known pages, a ~200-byte context key).
RequestKey = tuple[str, str, bytes]


# Memo entries holding a body planned for one user (`RequestMemo`): ~13 KB each with headers,
# so at most ~65 MB (`UISERVER_PERSONAL_MEMO`).
PERSONAL_SIZE = 5_000


class RequestMemo(BoundedDict[RequestKey, RequestEntry]):
    """The per-request memo, with an index of each user's keys, and a second, smaller bound on
    the entries whose body was planned for that user alone.

    Every profile change on any replica reaches every replica as a user invalidation, so
    dropping a user's entries must not scan the whole memo (3-4 ms at 100,000 entries, per
    message, on every replica). Lookups (the warm path) are plain dict lookups; only inserts
    and removals, evictions included, maintain the index.

    A shared plan's entry points at a body many users share (the body cache holds it anyway);
    a personal plan's entry (`put(..., personal=True)`: affinities moved modules) holds a body
    of its own, ~13 KB with its headers, kept alive by nothing else. Those are at most
    `personal_size` (first in, first out among them): without that bound they were the memory
    a memo bounded only by entry count grows by (issue 26: 394 MB at 1,000,000 distinct users,
    about a third of 24,000-43,000 memo entries holding a personal body; target 300 MB).
    """

    def __init__(self, maxsize: int, personal_size: int = PERSONAL_SIZE) -> None:
        super().__init__(maxsize)
        self._by_user: dict[str, set[RequestKey]] = {}
        self._personal = _PersonalKeys(personal_size, self)

    def __setitem__(self, key: RequestKey, value: RequestEntry) -> None:
        self.put(key, value)

    def put(self, key: RequestKey, value: RequestEntry, personal: bool = False) -> None:
        """Keep `value` under `key`; `personal`: its body is this user's alone (bounded
        apart, `personal_size`)."""
        super().__setitem__(key, value)
        self._by_user.setdefault(key[0], set()).add(key)
        if personal:
            self._personal[key] = None
        else:
            dict.pop(self._personal, key, None)

    @property
    def personal(self) -> int:
        """Entries holding a personal body now."""
        return len(self._personal)

    def evict(self, key: RequestKey) -> None:
        dict.pop(self, key, None)
        dict.pop(self._personal, key, None)
        keys = self._by_user.get(key[0])
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_user[key[0]]

    def clear(self) -> None:
        super().clear()
        self._by_user.clear()
        self._personal.clear()

    def drop_user(self, user_id: str) -> None:
        for key in self._by_user.pop(user_id, ()):
            dict.pop(self, key, None)
            dict.pop(self._personal, key, None)


class _PersonalKeys(BoundedDict[RequestKey, None]):
    """The memo's personal keys, oldest first; evicting one evicts its memo entry."""

    def __init__(self, maxsize: int, memo: RequestMemo) -> None:
        super().__init__(maxsize)
        self._memo = memo

    def evict(self, key: RequestKey) -> None:
        self._memo.evict(key)


class ProfileCache(BoundedDict[str, "Profile"]):
    """Profiles by user id; evicting or dropping one also drops that user's memo entries.

    A memo entry is only valid while its profile object is the cached one, so once the profile
    is gone its entries can never hit again: dropping them keeps memory bounded by this cache's
    size instead of keeping evicted profiles alive through the memo.
    """

    def __init__(self, maxsize: int, memo: RequestMemo) -> None:
        super().__init__(maxsize)
        self._memo = memo

    def evict(self, key: str) -> None:
        dict.pop(self, key, None)
        self._memo.drop_user(key)


@dataclass(slots=True)
class SharedPlan:
    """A plan shared by every user with its inputs (`engine.plan.shared_key`), and the
    fingerprint of its body in `LayoutCache.bodies` (`engine.plan_fingerprint`); valid only
    while `compiled` is the page's current object (identity is checked). The body itself is
    not held here: the body cache's bound is the bound on bodies (issue 26, memory: holding
    them here kept 1,170 evicted bodies of ~13 KB alive past it at 150,000 first launches)."""

    compiled: CompiledTemplate
    plan: Plan
    fingerprint: bytes


# Fingerprints of bodies planned for one user, remembered with a hash of that user's id (~180
# bytes each with the dict's slot; never the id, which erasure must leave nowhere) to admit a
# body to the body cache on its second user (`LayoutCache.seen`).
SEEN_SIZE = 20_000

# Shared plans kept: each holds a Plan (~1 KB with its key) and its body's 16-byte fingerprint.
# Users share far fewer plans than this (home: a few thousand per 1M users).
PLAN_CACHE_SIZE = 20_000


class LayoutCache:
    """The bounded levels described in the module docstring, plus the shared plans (a first
    launch whose inputs another user had skips planning, fingerprinting and the body lookup)."""

    def __init__(
        self,
        body_size: int,
        request_size: int,
        plan_size: int = PLAN_CACHE_SIZE,
        personal_size: int = PERSONAL_SIZE,
    ) -> None:
        """Raises ValueError for a bound below 1, as the memo's and the plans' do: an LRUCache
        of 0 took no body (`value too large`), so every layout GET was a 500."""
        if body_size < 1:
            raise ValueError("body cache size (UISERVER_LAYOUT_CACHE) must be at least 1")
        self.bodies: LRUCache[bytes, BodyEntry] = LRUCache(maxsize=body_size)
        # Bodies planned for one user (affinities moved modules) enter `bodies` only once a
        # second user is planned the same body: users' own plans often come out the same (in
        # the 1M-user memory check most personal bodies were served to many users), but a body
        # served once pushes out one many users share (issue 26, memory). Until then such a
        # body is found here by fingerprint for as long as a memo entry holds it (weak values:
        # this index keeps none alive), and `seen` remembers the fingerprints planned (16
        # bytes each) and the user each was first planned for (a hash), so a second user planned it
        # after the first's entry went still admits it, and the first user planned it again
        # (a profile change that moved nothing) does not.
        self.personal: weakref.WeakValueDictionary[bytes, BodyEntry] = weakref.WeakValueDictionary()
        self.seen: BoundedDict[bytes, int] = BoundedDict(SEEN_SIZE)
        self.requests = RequestMemo(request_size, personal_size)
        # First in, first out (`BoundedDict`): its lookup is a C dict lookup, where an LRU's is
        # ~1 us of Python on every first launch; a hot plan evicted is planned again once.
        self.plans: BoundedDict[SharedKey, SharedPlan] = BoundedDict(plan_size)

    def drop_user(self, user_id: str) -> None:
        """Forget what a user was served (profile change, erasure): their entries go at once."""
        self.requests.drop_user(user_id)
