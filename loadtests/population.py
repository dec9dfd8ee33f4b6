"""The seeded user population the load test draws from: personas, settings, contexts, tokens.

Both sides use it: `run.py` seeds the store and writes the population file; `locustfile.py`
reads that file. Tokens are minted here, once, so load generators never sign at runtime.

The persona mix is an assumption about a grocery mini-program's audience, not a measurement;
it is written down here (and in the report) so a reader can change it and see what moves.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import hashlib
import hmac
import json
import random
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # locust imports this module: uiserver is loaded only where it is used
    from uiserver.store.base import Store

# persona -> share of the population. "default" users have no stored settings row at all.
PERSONA_MIX: dict[str, float] = {
    "default": 0.55,
    "elderly": 0.15,  # age band 60+, elderly mode "auto": the age band turns it on
    "left_handed": 0.08,
    "churn_risk": 0.08,  # default settings, in the operator's churn_risk segment
    "off": 0.07,  # personalization 0: the base layout, events ignored
    "low_vision": 0.05,  # font scale 1.5, high contrast
    "screen_reader": 0.02,
}

# What each persona stores through PUT /v1/me/settings (fields not named keep their defaults).
PERSONA_SETTINGS: dict[str, dict[str, Any]] = {
    "elderly": {"age_band": "60_plus", "font_scale": 1.3},
    "left_handed": {"handedness": "left", "age_band": "18_39"},
    "off": {"personalization": 0.0},
    "low_vision": {"font_scale": 1.5, "high_contrast": True},
    "screen_reader": {"screen_reader": True, "reduce_motion": True},
}
PERSONA_SEGMENTS: dict[str, list[str]] = {"churn_risk": ["churn_risk"]}

# Launch contexts: (query string, share). Mostly phones; every distinct query multiplies cache
# keys, so the set is small, as real clients' contexts are.
CONTEXTS: list[tuple[str, float]] = [
    ("device=phone&width=375&dark=0", 0.30),
    ("device=phone&width=390&dark=0", 0.25),
    ("device=phone&width=414&dark=0", 0.10),
    ("device=phone&width=390&dark=1", 0.20),
    ("device=phone&width=360&dark=0&low_power=1", 0.05),
    ("device=tablet&width=820&dark=0", 0.10),
]
# Elderly users on WeChat care mode report a large system font.
ELDERLY_CARE_MODE_SHARE = 0.3
CARE_MODE_QUERY = "&font_px=24"

HISTORY_SHARE = 0.3  # share of personalizing users seeded with past behaviour
HISTORY_CLICKS = (8, 30)  # meaningful events per seeded history (policy minimum is 8)


@dataclass(slots=True)
class Member:
    """One user of the population: who they are and what their client sends."""

    user: str
    persona: str
    query: str
    token: str = ""
    etag: str = ""  # the ETag of `home` the client stored at its last launch ("" = none)
    clicks: list[str] = field(default_factory=list)  # seeded behaviour: component ids clicked


def _pick(rng: random.Random, weighted: Sequence[tuple[str, float]]) -> str:
    names = [name for name, _ in weighted]
    weights = [weight for _, weight in weighted]
    return rng.choices(names, weights)[0]


def build_population(
    size: int, seed: int, movable: Sequence[str] = (), prefix: str = "u"
) -> list[Member]:
    """`size` members with personas and contexts drawn from a seeded RNG (same seed, same
    population); a share of personalizing users get a click history over `movable`."""
    rng = random.Random(seed)
    personas = list(PERSONA_MIX.items())
    members: list[Member] = []
    width = len(str(size))
    for index in range(size):
        persona = _pick(rng, personas)
        query = _pick(rng, CONTEXTS)
        if persona == "elderly" and rng.random() < ELDERLY_CARE_MODE_SHARE:
            query += CARE_MODE_QUERY
        member = Member(f"{prefix}{index:0{width}d}", persona, query)
        if movable and persona != "off" and rng.random() < HISTORY_SHARE:
            member.clicks = rng.choices(movable, k=rng.randint(*HISTORY_CLICKS))
        members.append(member)
    return members


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def mint_tokens(
    members: Iterable[Member],
    secret: str,
    ttl: int,
    *,
    now: Callable[[], float] = time.time,
    jti: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> None:
    """Sign every member's token up front: the bytes `uiserver.auth.mint_token(secret, user,
    "user", ttl)` makes (PyJWT's compact HS256 encoding of `sub`, `iat`, `exp` and a UUID4
    `jti`), with one HMAC each: ~8 us a token against PyJWT's ~26 us (100,000 tokens took
    2.6 s of the load core). tests/unit/test_bench_runner.py checks the bytes against
    `mint_token`'s."""
    encode = json.JSONEncoder(separators=(",", ":")).encode  # json.dumps's, made once
    header = _b64(encode({"alg": "HS256", "typ": "JWT"}).encode())
    keyed = hmac.new(secret.encode(), digestmod=hashlib.sha256)
    issued = int(now())
    for member in members:
        claims = {"sub": member.user, "iat": issued, "exp": issued + ttl, "jti": jti()}
        signing = header + b"." + _b64(encode(claims).encode())
        mac = keyed.copy()
        mac.update(signing)
        member.token = (signing + b"." + _b64(mac.digest())).decode()


@contextlib.contextmanager
def grouped_commits(store: Store, every: int = 1_000) -> Iterator[None]:
    """On a SQLite store, the store's write functions share one transaction per `every` of
    them instead of committing each: the same statements and rows, ~20% less time seeding
    100,000 users (11.4 -> 8.9 s at load 5). Everything is committed at the end, or rolled
    back with the error. Other stores: unchanged."""
    from uiserver.store.sqlite.database import Database

    db = getattr(store, "db", None)
    if not isinstance(db, Database):
        yield
        return
    done = 0

    @contextlib.contextmanager
    def tx(write: bool) -> Iterator[sqlite3.Connection]:
        nonlocal done
        conn = db.connection()
        if not conn.in_transaction:
            conn.execute("BEGIN IMMEDIATE")
        yield conn  # an error ends the seeding: rolled back below
        done += 1
        if done % every == 0:
            conn.execute("COMMIT")

    db.tx = tx  # type: ignore[method-assign]
    try:
        yield
    except BaseException:
        if db.connection().in_transaction:
            db.connection().execute("ROLLBACK")
        raise
    else:
        if db.connection().in_transaction:
            db.connection().execute("COMMIT")
    finally:
        del db.tx


async def seed_store(store: Store, members: Sequence[Member], page: str) -> dict[str, int]:
    """Write settings, segments and seeded behaviour through the store's own API (on SQLite
    committed per 1,000 writes: `grouped_commits`).

    Only members whose settings differ from the defaults get a row (as in production, where a
    user who never opened the settings screen has none).
    """
    with grouped_commits(store):
        return await _seed_members(store, members, page)


async def _seed_members(store: Store, members: Sequence[Member], page: str) -> dict[str, int]:
    from uiserver.schema import Event, Settings

    counts = {"settings": 0, "segments": 0, "histories": 0}
    for member in members:
        values = PERSONA_SETTINGS.get(member.persona)
        if values:
            await store.users.put_settings(member.user, Settings(**values))
            counts["settings"] += 1
    assignments = [
        (m.user, PERSONA_SEGMENTS[m.persona]) for m in members if m.persona in PERSONA_SEGMENTS
    ]
    if assignments:
        counts["segments"] = await store.users.put_segments(assignments)
    now = time.time()
    for member in members:
        if member.clicks:
            events = [
                Event(page=page, component=c, kind="click", ts=now - 3_600) for c in member.clicks
            ]
            await store.users.record_events(member.user, events, now)
            counts["histories"] += 1
    return counts


FIELDS = ("user", "token", "persona", "query", "etag")


def write_population(path: Path, members: Iterable[Member], designer_token: str) -> None:
    """The file the locustfile reads (`LOADTEST_POPULATION`): one CSV row per member, plus one
    row with persona `designer` for the designer user."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(FIELDS)
        writer.writerow(["designer", designer_token, "designer", "", ""])
        for m in members:
            writer.writerow([m.user, m.token, m.persona, m.query, m.etag])


def read_population(path: Path) -> tuple[list[Member], str]:
    """(members, designer token) from a population file."""
    members: list[Member] = []
    designer = ""
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["persona"] == "designer":
                designer = row["token"]
                continue
            members.append(
                Member(
                    row["user"], row["persona"], row["query"], row["token"], row.get("etag") or ""
                )
            )
    return members, designer


def persona_counts(members: Iterable[Member]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for member in members:
        counts[member.persona] = counts.get(member.persona, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def chunks(items: Sequence[Member], size: int) -> Iterator[Sequence[Member]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
