"""Console sessions on both stores, with a clock the test moves: ids are random and stored only
hashed, rotate, end when idle, at their absolute end, at the token's `exp`, on revocation and at
logout (every id of the sign-in, seen by another process at once)."""

from __future__ import annotations

import hashlib

import pytest

from tests.helpers.stores import StoreFactory
from uiserver.auth import Identity
from uiserver.auth.revocations import Revocations
from uiserver.auth.sessions import GRACE_S, ConsoleSessions, SessionEnded, SessionPolicy, id_hash
from uiserver.store.base import Revocation, Store

pytestmark = pytest.mark.anyio

# Redis expires session keys by its own (real) clock: the test's clock runs in the real future.
START = 4_000_000_000.0
POLICY = SessionPolicy(idle=1_800, absolute=12 * 3_600, rotate=900)
DORA = Identity("dora", "designer", START + 86_400, START - 5, "jti-dora")


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def sessions_on(
    store: Store, clock: Clock, revocations: Revocations | None = None
) -> ConsoleSessions:
    held = Revocations() if revocations is None else revocations
    return ConsoleSessions(store.sessions, held, POLICY, clock)


async def test_a_session_id_is_random_and_stored_only_hashed(store: Store) -> None:
    clock = Clock()
    sessions = sessions_on(store, clock)
    first, record = await sessions.start(DORA)
    second, _ = await sessions.start(DORA)
    assert first != second and len(first) >= 43  # 32 random bytes, base64url
    assert record.id_hash == hashlib.sha256(first.encode()).hexdigest() == id_hash(first)
    assert await store.sessions.get_session(first) is None  # the value itself is no key
    resumed = await sessions.resume(first)
    assert resumed.who.user_id == "dora" and resumed.who.role == "designer"
    assert resumed.new_id is None


async def test_the_id_rotates_and_the_old_one_dies_after_its_grace(store: Store) -> None:
    clock = Clock()
    sessions = sessions_on(store, clock)
    old, record = await sessions.start(DORA)
    clock.now += 600
    assert (await sessions.resume(old)).new_id is None
    clock.now += 300  # 900 s after sign-in: a new id
    rotated = await sessions.resume(old)
    assert rotated.new_id is not None and rotated.new_id != old
    assert rotated.record.csrf == record.csrf  # open forms keep working
    assert rotated.record.family == record.family
    clock.now += GRACE_S - 1
    assert (await sessions.resume(old)).new_id is None  # in flight: still works, no rotation
    clock.now += 2
    with pytest.raises(SessionEnded):
        await sessions.resume(old)


async def test_a_replayed_old_id_past_its_grace_ends_the_sign_in(store: Store) -> None:
    # Someone presenting a replaced id late is a stolen cookie or a lost tab: end the family.
    clock = Clock()
    sessions = sessions_on(store, clock)
    old, _ = await sessions.start(DORA)
    clock.now += 900
    new_id = (await sessions.resume(old)).new_id
    assert new_id is not None
    clock.now += GRACE_S + 1
    with pytest.raises(SessionEnded):
        await sessions.resume(old)
    with pytest.raises(SessionEnded):
        await sessions.resume(new_id)


async def test_idle_and_absolute_bounds(store: Store) -> None:
    clock = Clock()
    sessions = sessions_on(store, clock)
    idle, _ = await sessions.start(DORA)
    clock.now += 1_801
    with pytest.raises(SessionEnded, match="without activity"):
        await sessions.resume(idle)
    # Activity every 20 minutes keeps a session alive, but never past 12 hours.
    clock.now = START
    busy, _ = await sessions.start(DORA)
    current = busy
    with pytest.raises(SessionEnded, match="expired"):
        for _ in range(100):
            clock.now += 1_200
            resumed = await sessions.resume(current)
            current = resumed.new_id or current
    assert clock.now - START == pytest.approx(12 * 3_600, abs=1_200)


async def test_a_session_ends_with_its_token(store: Store) -> None:
    clock = Clock()
    sessions = sessions_on(store, clock)
    short = Identity("dora", "designer", START + 600, START, "j")
    session_id, record = await sessions.start(short)
    assert record.expires == START + 600
    clock.now += 601
    with pytest.raises(SessionEnded):
        await sessions.resume(session_id)


async def test_logout_ends_every_id_of_the_sign_in_everywhere(make_store: StoreFactory) -> None:
    one, two = await make_store(), await make_store()
    clock = Clock()
    here, there = sessions_on(one, clock), sessions_on(two, clock)
    old, _ = await here.start(DORA)
    clock.now += 900
    new_id = (await here.resume(old)).new_id
    assert new_id is not None
    other, _ = await here.start(DORA)  # another browser: another sign-in
    await here.end((await there.resume(new_id)).record)
    for ended in (old, new_id):
        with pytest.raises(SessionEnded):
            await there.resume(ended)
    assert (await there.resume(other)).who.user_id == "dora"


@pytest.mark.parametrize("kind", ["subject", "jti"])
async def test_a_revoked_token_ends_its_sessions(store: Store, kind: str) -> None:
    clock = Clock()
    revocations = Revocations()
    sessions = sessions_on(store, clock, revocations)
    session_id, _ = await sessions.start(DORA)
    value = "dora" if kind == "subject" else "jti-dora"
    revocations.apply(Revocation(kind, value, START, START + 10**6))  # type: ignore[arg-type]
    with pytest.raises(SessionEnded, match="revoked"):
        await sessions.resume(session_id)
    # Signing in again with a token issued after the revocation works (subject), a new jti too.
    fresh = Identity("dora", "designer", START + 86_400, START + 1, "jti-new")
    again, _ = await sessions.start(fresh)
    assert (await sessions.resume(again)).who.jti == "jti-new"


async def test_junk_cookie_values_are_no_session(store: Store) -> None:
    sessions = sessions_on(store, Clock())
    for junk in ("", "x", "a" * 10_000, "\ud800", "../../etc"):
        with pytest.raises(SessionEnded):
            await sessions.resume(junk)


async def test_activity_keeps_a_short_idle_session_alive(store: Store) -> None:
    # A request every 20 s against a 40 s idle bound: activity is written often enough.
    clock = Clock()
    policy = SessionPolicy(idle=40, absolute=3_600, rotate=10_000)
    sessions = ConsoleSessions(store.sessions, Revocations(), policy, clock)
    session_id, _ = await sessions.start(DORA)
    for _ in range(30):
        clock.now += 20
        assert (await sessions.resume(session_id)).who.user_id == "dora"
