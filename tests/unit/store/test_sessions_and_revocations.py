"""Console sessions and token revocations on both stores (SQLite file, real redis-server):
shared by every process on the same data, hashed ids only, rotation and logout atomic, a
revocation reaching the other processes through the invalidation channel."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from tests.helpers.stores import NOW, StoreFactory
from uiserver.store.base import Invalidation, Revocation, SessionRecord, Store

pytestmark = pytest.mark.anyio


def record(id_hash: str = "a" * 64, family: str = "f1", **changes: object) -> SessionRecord:
    base = SessionRecord(
        id_hash=id_hash,
        family=family,
        subject="dora",
        role="designer",
        csrf="c" * 64,
        token_iat=NOW - 10,
        token_jti="jti-1",
        created=NOW,
        issued=NOW,
        last_seen=NOW,
        expires=NOW + 3_600,
    )
    return msgspec.structs.replace(base, **changes)


# The Redis store expires session keys at `expires` in Redis's own clock: records here live
# in the real future, so nothing vanishes under the test.
FAR = 4_000_000_000.0


async def test_sessions_round_trip_and_are_shared(make_store: StoreFactory) -> None:
    one, two = await make_store(), await make_store()
    first = record(expires=FAR)
    await one.sessions.create_session(first, NOW)
    assert await two.sessions.get_session(first.id_hash) == first
    assert await two.sessions.get_session("b" * 64) is None
    await two.sessions.touch_session(first.id_hash, NOW + 100)
    assert (await one.sessions.get_session(first.id_hash)) == msgspec.structs.replace(
        first, last_seen=NOW + 100
    )
    await one.sessions.touch_session(first.id_hash, NOW + 50)  # never moves back
    touched = await two.sessions.get_session(first.id_hash)
    assert touched is not None and touched.last_seen == NOW + 100


async def test_touching_a_session_ended_meanwhile_does_not_bring_it_back(
    make_store: StoreFactory,
) -> None:
    """A request resumed the session on one replica; a logout on another ended it before the
    request recorded its activity: the touch stores nothing."""
    one, two = await make_store(), await make_store()
    first = record(expires=FAR)
    await one.sessions.create_session(first, NOW)
    assert await two.sessions.end_family(first.family) == 1
    await one.sessions.touch_session(first.id_hash, NOW + 100)
    assert await one.sessions.get_session(first.id_hash) is None
    assert await two.sessions.get_session(first.id_hash) is None


async def test_rotation_replaces_once_and_logout_ends_the_family(make_store: StoreFactory) -> None:
    one, two = await make_store(), await make_store()
    first = record(expires=FAR)
    other = record("d" * 64, family="f2", expires=FAR)
    await one.sessions.create_session(first, NOW)
    await one.sessions.create_session(other, NOW)
    second = record("b" * 64, issued=NOW + 900, last_seen=NOW + 900, expires=FAR)
    assert await one.sessions.rotate_session(first, second, NOW + 900) is True
    # A second rotation of the same id (another replica, the same moment) stores nothing.
    third = record("e" * 64, issued=NOW + 900, expires=FAR)
    assert await two.sessions.rotate_session(first, third, NOW + 900) is False
    assert await two.sessions.get_session(third.id_hash) is None
    old = await two.sessions.get_session(first.id_hash)
    assert old is not None and old.replaced == NOW + 900
    assert await two.sessions.get_session(second.id_hash) == second
    assert await two.sessions.end_family("f1") == 2
    assert await one.sessions.get_session(first.id_hash) is None
    assert await one.sessions.get_session(second.id_hash) is None
    assert await one.sessions.get_session(other.id_hash) == other  # another sign-in stays
    assert await one.sessions.rotate_session(first, third, NOW + 901) is False


async def test_sessions_survive_user_erasure(store: Store) -> None:
    # A designer's session is not a mini-program user's data.
    first = record(expires=FAR)
    await store.sessions.create_session(first, NOW)
    await store.users.erase_user("dora")
    assert await store.sessions.get_session(first.id_hash) == first


async def test_revocations_merge_expire_and_reach_other_processes(
    make_store: StoreFactory,
) -> None:
    one, two = await make_store(), await make_store()
    heard: list[Invalidation] = []
    two.add_listener(heard.append)
    stored = await one.revocations.revoke(Revocation("subject", "dora", NOW, NOW + 100, "ada"))
    assert stored == Revocation("subject", "dora", NOW, NOW + 100, "ada")
    # An older not-before never moves a revocation back.
    again = await one.revocations.revoke(Revocation("subject", "dora", NOW - 50, NOW + 50, "x"))
    assert again.not_before == NOW and again.expires == NOW + 100
    await one.revocations.revoke(Revocation("jti", "t-1", NOW, NOW + 10, "ada"))
    held = await two.revocations.revocations(NOW)
    assert [(r.kind, r.value) for r in held] == [("jti", "t-1"), ("subject", "dora")]
    assert [r.value for r in await two.revocations.revocations(NOW + 20)] == ["dora"]
    # A later revocation prunes what expired before it.
    await one.revocations.revoke(Revocation("subject", "erik", NOW + 200, NOW + 300, "ada"))
    assert [r.value for r in await two.revocations.revocations(NOW)] == ["erik"]
    # The other process heard each revocation, with the record in the message.
    for _ in range(100):
        two.poll()
        if len([m for m in heard if m.kind == "revocation"]) >= 4:
            break
        await asyncio.sleep(0.01)
    keys = [msgspec.json.decode(m.key, type=Revocation) for m in heard if m.kind == "revocation"]
    assert [k.value for k in keys] == ["dora", "dora", "t-1", "erik"]


async def test_revocations_survive_user_erasure(store: Store) -> None:
    # Erasing a user's data must not lift a revocation of their tokens.
    await store.revocations.revoke(Revocation("subject", "dora", NOW, NOW + 100, "ada"))
    await store.users.erase_user("dora")
    assert [r.value for r in await store.revocations.revocations(NOW)] == ["dora"]
