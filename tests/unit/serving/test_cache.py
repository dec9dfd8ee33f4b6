"""The layout caches: bounded, per-user drops, eviction coupling, miss coalescing."""

from __future__ import annotations

import asyncio
import gzip
from typing import Any, cast

from uiserver.datastructures import Coalescer
from uiserver.schema import Profile
from uiserver.serving.cache import BodyEntry, ProfileCache, RequestEntry, RequestMemo


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

    async def compute() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return 42

    async def failing() -> int:
        await asyncio.sleep(0.01)
        raise RuntimeError("store down")

    async def scenario() -> list[object]:
        results = await asyncio.gather(*[coalescer.run("k", compute) for _ in range(20)])
        errors = await asyncio.gather(
            *[coalescer.run("e", failing) for _ in range(5)], return_exceptions=True
        )
        return [*results, *errors]

    out = asyncio.run(scenario())
    assert out[:20] == [42] * 20 and calls == 1
    assert all(isinstance(e, RuntimeError) for e in out[20:])
    assert asyncio.run(coalescer.run("k", compute)) == 42 and calls == 2  # nothing kept after
