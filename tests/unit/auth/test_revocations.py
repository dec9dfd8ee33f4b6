"""The in-memory view of revocations: by subject (tokens issued before a time, and every token
without `iat`) and by `jti`; a later not-before wins; applied from a message; reloaded after
`all`; forgotten when no token it refuses can be valid any more."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from uiserver.auth import Identity, Lifetimes
from uiserver.auth.revocations import RevocationRefused, Revocations, expiry, revocation
from uiserver.store.base import Invalidation, Revocation, StoreUnavailable

NOW = 1_700_000_000.0
FAR = NOW + 10.0**10  # an expiry still ahead of the real clock


def who(user: str = "dora", iat: float | None = NOW - 10, jti: str = "") -> Identity:
    return Identity(user, "designer", NOW + 3_600, iat, jti)


def test_a_subject_revocation_refuses_tokens_issued_before_it() -> None:
    revocations = Revocations()
    assert not revocations.refuses(who())
    revocations.apply(Revocation("subject", "dora", NOW, FAR))
    assert revocations.refuses(who(iat=NOW - 10))
    assert revocations.refuses(who(iat=None))  # cannot show it was issued after
    assert not revocations.refuses(who(iat=NOW))
    assert not revocations.refuses(who(iat=NOW + 5))
    assert not revocations.refuses(who("erik", iat=NOW - 10))
    revocations.apply(Revocation("subject", "dora", NOW - 1_000, FAR))  # older: ignored
    assert revocations.refuses(who(iat=NOW - 10)) and revocations.not_before("dora") == NOW


def test_a_jti_revocation_refuses_that_token_only() -> None:
    revocations = Revocations()
    revocations.apply(Revocation("jti", "t-1", NOW, FAR))
    assert revocations.refuses(who(jti="t-1"))
    assert not revocations.refuses(who(jti="t-2"))
    assert not revocations.refuses(who(jti=""))


def test_messages_apply_and_all_reloads() -> None:
    stored = [Revocation("subject", "erik", NOW, 10.0**10)]

    async def load() -> list[Revocation]:
        return list(stored)

    async def scenario() -> Revocations:
        revocations = Revocations(load=load)
        key = msgspec.json.encode(Revocation("jti", "t-9", NOW, NOW + 10**10)).decode()
        revocations.heard(Invalidation("revocation", key))
        revocations.heard(Invalidation("all"))
        await asyncio.sleep(0.01)
        return revocations

    revocations = asyncio.run(scenario())
    assert revocations.refuses(who("erik")) and revocations.refuses(who(jti="t-9"))
    revocations.forget(NOW + 10.0**10 + 1)
    assert not revocations.refuses(who("erik")) and not revocations.refuses(who(jti="t-9"))


def test_the_record_of_a_revocation() -> None:
    lifetimes = Lifetimes(user=30 * 86_400, privileged=12 * 3_600)
    record = revocation(
        subject="dora", jti=None, author="ada", lifetimes=lifetimes, leeway=60, now=NOW
    )
    assert record == Revocation("subject", "dora", NOW, NOW + 30 * 86_400 + 60, "ada")
    assert expiry(NOW, lifetimes, 60) == record.expires
    assert (
        revocation(subject=None, jti="t", author="", lifetimes=lifetimes, leeway=0, now=NOW).kind
        == "jti"
    )
    for subject, jti in (
        (None, None),
        ("dora", "t"),
        ("", None),
        (None, ""),
        (None, "x" * 257),
        ("\u200b", None),
    ):
        with pytest.raises(RevocationRefused):
            revocation(subject=subject, jti=jti, author="", lifetimes=lifetimes, leeway=0, now=NOW)


def test_an_expired_revocation_refuses_nothing() -> None:
    # Kept until no token it refuses can be valid: after that, a token without iat is accepted.
    revocations = Revocations()
    revocations.apply(Revocation("subject", "dora", NOW, NOW + 100))
    revocations.apply(Revocation("jti", "t-1", NOW, NOW + 100))
    assert not revocations.refuses(who(iat=None))
    assert not revocations.refuses(who(jti="t-1"))


def test_an_undecodable_message_reloads_until_the_store_answers(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A revocation message this process cannot read may have refused someone: everything is
    read again from the store, retried while the store is down (a warning each time)."""
    monkeypatch.setattr("uiserver.auth.revocations.RETRY_S", 0.01)
    loads: list[int] = []

    async def load() -> list[Revocation]:
        loads.append(1)
        if len(loads) < 3:
            raise StoreUnavailable("redis: down")
        return [Revocation("jti", "t-7", NOW, FAR)]

    async def scenario() -> Revocations:
        revocations = Revocations(load=load)
        revocations.heard(Invalidation("revocation", "{not json"))
        for _ in range(500):
            if revocations.refuses(who(jti="t-7")):
                break
            await asyncio.sleep(0.01)
        await revocations.close()
        return revocations

    revocations = asyncio.run(scenario())
    assert revocations.refuses(who(jti="t-7")) and len(revocations) == 1
    assert len(loads) == 3
    assert "undecodable revocation message" in caplog.text
    assert caplog.text.count("reloading revocations failed") == 2


def test_close_stops_a_reload_the_store_keeps_failing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("uiserver.auth.revocations.RETRY_S", 0.01)
    loads: list[int] = []

    async def down() -> list[Revocation]:
        loads.append(1)
        raise StoreUnavailable("redis: down")

    async def scenario() -> int:
        revocations = Revocations(load=down)
        revocations.heard(Invalidation("all"))
        while len(loads) < 2:
            await asyncio.sleep(0.01)
        await revocations.close()
        stopped = len(loads)
        await asyncio.sleep(0.05)
        return len(loads) - stopped

    assert asyncio.run(scenario()) == 0  # no load after close


def test_without_a_loop_or_a_store_nothing_is_reloaded() -> None:
    """A command (no event loop, no store): `all` schedules nothing, reload reads nothing;
    the revocations already held stay."""
    revocations = Revocations()
    revocations.apply(Revocation("jti", "t-1", NOW, FAR))
    revocations.heard(Invalidation("all"))
    asyncio.run(revocations.reload())
    assert revocations.refuses(who(jti="t-1")) and len(revocations) == 1
