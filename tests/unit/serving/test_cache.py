"""The layout caches: bounded, per-user drops, eviction coupling, miss coalescing."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable
from typing import Any, cast

import pytest

from uiserver.datastructures import Coalescer
from uiserver.schema import Profile
from uiserver.serving.cache import (
    BodyEntry,
    LayoutCache,
    ProfileCache,
    RequestEntry,
    RequestMemo,
)


def _entry(profile: Profile) -> RequestEntry:
    body = BodyEntry.of(b"{}")
    return RequestEntry(compiled=cast(Any, None), profile=profile, day=0, entry=body)


def test_memo_is_bounded_and_drops_one_user() -> None:
    memo = RequestMemo(maxsize=10)
    for i in range(25):
        memo[(f"u{i % 5}", f"p{i}", b"")] = _entry(Profile())
    assert len(memo) == 10
    memo.drop_user("u4")
    assert not [k for k in memo if k[0] == "u4"]
    assert len(memo) == 8


def test_personal_entries_have_a_bound_of_their_own() -> None:
    """Entries holding a body planned for one user are at most `personal_size`, oldest out
    first; entries of shared plans are bounded by the memo alone."""
    memo = RequestMemo(maxsize=100, personal_size=3)
    for i in range(20):
        memo.put((f"shared-{i}", "home", b""), _entry(Profile()))
    for i in range(5):
        memo.put((f"own-{i}", "home", b""), _entry(Profile()), personal=True)

    assert memo.personal == 3
    assert sorted(k[0] for k in memo if k[0].startswith("own-")) == ["own-2", "own-3", "own-4"]
    assert len(memo) == 23

    memo.drop_user("own-3")  # gone from both bounds
    memo.put(("own-4", "home", b""), _entry(Profile()))  # now a shared plan's entry
    assert memo.personal == 1
    for i in range(5, 8):
        memo.put((f"own-{i}", "home", b""), _entry(Profile()), personal=True)
    assert memo.personal == 3
    assert ("own-4", "home", b"") in memo  # no longer counted as personal, not evicted as one
    assert ("own-2", "home", b"") not in memo
    memo.clear()
    assert memo.personal == 0 and len(memo) == 0


def test_evicting_a_profile_drops_its_memo_entries() -> None:
    memo = RequestMemo(maxsize=100)
    profiles = ProfileCache(maxsize=2, memo=memo)
    for user in ("a", "b"):
        profiles[user] = Profile(user_id=user)
        memo[(user, "home", b"")] = _entry(profiles[user])
    profiles["c"] = Profile(user_id="c")  # evicts "a", the least recently used
    assert "a" not in profiles
    assert [k[0] for k in memo] == ["b"]


def test_body_entry_etag_is_content_hash_and_gzip_round_trips() -> None:
    one = BodyEntry.of(b"x" * 2000)
    same = BodyEntry.of(b"x" * 2000)
    other = BodyEntry.of(b"y" * 2000)
    assert one.etag == same.etag != other.etag
    assert one.etag.startswith(b'"') and one.etag.endswith(b'"')
    assert gzip.decompress(one.gzipped()) == one.body and one.compressible


def test_coalescer_computes_once_and_shares_errors() -> None:
    coalescer: Coalescer[str, int] = Coalescer()
    calls = 0
    gate = asyncio.Event()  # holds every computation open until all its callers have joined

    async def compute() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return 42

    async def failing() -> int:
        await gate.wait()
        raise RuntimeError("store down")

    async def together(key: str, work: Callable[[], Awaitable[int]], n: int) -> list[object]:
        """`n` concurrent callers of `run(key, work)`; the gate opens once the last has joined
        (a caller joins in the step it starts in, so no timing is guessed)."""
        gate.clear()
        all_in = asyncio.Event()
        started = 0

        async def caller() -> int:
            nonlocal started
            started += 1
            if started == n:
                all_in.set()
            return await coalescer.run(key, work)

        tasks = [asyncio.ensure_future(caller()) for _ in range(n)]
        await all_in.wait()
        gate.set()
        return list(await asyncio.gather(*tasks, return_exceptions=True))

    async def scenario() -> list[object]:
        results = await together("k", compute, 20)
        assert results == [42] * 20 and calls == 1
        errors = await together("e", failing, 5)
        assert all(isinstance(e, RuntimeError) for e in errors)
        assert coalescer.computations == 2  # the 5 failing callers shared one attempt too
        return await together("k", compute, 1)  # nothing kept after

    assert asyncio.run(scenario()) == [42] and calls == 2


def test_a_body_cache_of_no_entries_is_refused_at_start() -> None:
    """`UISERVER_LAYOUT_CACHE=0` started, then answered every layout GET with a 500 (the LRU
    took no body: `value too large`); refused at start like the other bounds of 0."""
    with pytest.raises(ValueError, match="UISERVER_LAYOUT_CACHE"):
        LayoutCache(0, 10)
    assert LayoutCache(1, 10).bodies.maxsize == 1
