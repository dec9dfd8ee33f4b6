"""A store holding a million users, written in bulk, and tokens for users the server never saw.

    python loadtests/bulkseed.py --users 1000000 --sqlite DIR          # time it, check it
    python loadtests/bulkseed.py --users 1000000 --redis redis://127.0.0.1:6379/0
    python loadtests/bulkseed.py --users 1000000 --redis redis-cluster://127.0.0.1:7000,...

The rows and keys are the stores' own formats (the tables of `uiserver/store/sqlite/users.py`,
the hashes, sorted sets and sets named by `uiserver/store/redis/keys.py`), written with one
SQLite transaction of `executemany` or non-transactional Redis pipelines of `BATCH` users (on a
Redis Cluster, redis-py's cluster pipeline, which sends each node the commands of its slots, and
the store's hash-tagged key names, `Keys(cluster=True)`): ~10x
faster than the store's per-user write functions, which each commit (and, on Redis, publish an
invalidation).
After writing, `check_sample` reads a sample back through the store's own `get_profile` and
fails the run if anything differs, so a format change in the store cannot go unnoticed.

The mix (an assumption, written down; `SETTINGS_SHARE` etc.): 80% of users have a settings row,
a third have affinities (4-12 keys of the `home` template, evidence 8-60, so personalization
moves their layout), 8% are in a segment. The first `warm` users have nothing stored: they are
the warm clients that all get the same body. Everyone else is a candidate first launch.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _path in (ROOT,):
    if str(_path) not in sys.path[:1]:
        sys.path.insert(0, str(_path))

from loadtests.population import CONTEXTS  # noqa: E402

SETTINGS_SHARE = 0.8
AFFINITY_SHARE = 1 / 3
SEGMENT_SHARE = 0.08
BATCH = 5_000
# (settings fields, weight) for users with a settings row; the first ones change nothing a
# layout depends on (a user who opened the settings screen and kept the defaults).
SETTINGS_MIX: list[tuple[dict[str, Any], float]] = [
    ({"age_band": "18_39"}, 0.30),
    ({"age_band": "40_59", "handedness": "right"}, 0.25),
    ({"age_band": "60_plus", "font_scale": 1.3}, 0.15),
    ({"handedness": "left", "age_band": "18_39"}, 0.10),
    ({"font_scale": 1.5, "high_contrast": True}, 0.07),
    ({"personalization": 0.0}, 0.08),
    ({"screen_reader": True, "reduce_motion": True}, 0.05),
]
SEGMENTS = ("churn_risk", "vip", "new_user")


@dataclass(slots=True)
class SeedUser:
    user_id: str
    settings: bytes | None  # the stored JSON, or None (no row)
    scores: dict[str, float]
    evidence: int
    segments: list[str]
    query: str


def user_id(index: int) -> str:
    return f"p{index:07d}"


def affinity_keys(page: str = "home") -> list[str]:
    """The keys the engine reads for `page`: each component's category, else its id."""
    from uiserver.catalog import load_templates

    template = load_templates(ROOT / "layouts")[page]
    return sorted({c.category or c.id for c in template.components})


def generate(count: int, seed: int, warm: int, keys: list[str]) -> Iterator[SeedUser]:
    """The users, deterministic for (count, seed, warm)."""
    from uiserver.schema import Settings
    from uiserver.store._common import json_encode

    rng = random.Random(seed)
    encoded = [json_encode(Settings(**fields)) for fields, _ in SETTINGS_MIX]
    weights = [w for _, w in SETTINGS_MIX]
    queries = [q for q, _ in CONTEXTS]
    query_weights = [w for _, w in CONTEXTS]
    for index in range(count):
        if index < warm:
            yield SeedUser(user_id(index), None, {}, 0, [], queries[0])
            continue
        settings = rng.choices(encoded, weights)[0] if rng.random() < SETTINGS_SHARE else None
        scores: dict[str, float] = {}
        evidence = 0
        if rng.random() < AFFINITY_SHARE:
            scores = {
                k: round(rng.expovariate(0.2), 2)
                for k in rng.sample(keys, rng.randint(4, min(12, len(keys))))
            }
            evidence = rng.randint(8, 60)
        segments = [rng.choice(SEGMENTS)] if rng.random() < SEGMENT_SHARE else []
        query = rng.choices(queries, query_weights)[0]
        yield SeedUser(user_id(index), settings, scores, evidence, segments, query)


def _batches(users: Iterator[SeedUser], size: int) -> Iterator[list[SeedUser]]:
    batch: list[SeedUser] = []
    for user in users:
        batch.append(user)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def seed_sqlite(data_dir: Path, users: Iterator[SeedUser]) -> dict[str, int]:
    """Rows straight into the store's tables, one transaction (the schema is the store's own:
    it is created by opening the store first)."""
    from uiserver.store.factory import SQLITE_FILE, open_store

    async def create_schema() -> None:
        store = open_store("", data_dir)
        await store.open()
        await store.close()

    asyncio.run(create_schema())
    conn = sqlite3.connect(data_dir / SQLITE_FILE, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    counts = {"users": 0, "settings": 0, "affinities": 0, "segments": 0}
    now = time.time()
    conn.execute("BEGIN IMMEDIATE")
    try:
        for batch in _batches(users, BATCH * 4):
            rows = [
                (
                    u.user_id,
                    None if u.settings is None else u.settings.decode(),
                    u.evidence,
                    now - 3_600 if u.scores else None,
                    now - 3_600 if u.scores else None,
                    now,
                    now,
                )
                for u in batch
                if u.settings is not None or u.scores
            ]
            conn.executemany(
                "INSERT INTO users (user_id, settings, evidence, affinity_ts, "
                "last_event, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            conn.executemany(
                "INSERT INTO affinities (user_id, key, score) VALUES (?, ?, ?)",
                [(u.user_id, k, s) for u in batch for k, s in u.scores.items()],
            )
            conn.executemany(
                "INSERT INTO segments (user_id, segment) VALUES (?, ?)",
                [(u.user_id, s) for u in batch for s in u.segments],
            )
            _count(counts, batch)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()
    return counts


def seed_redis(url: str, users: Iterator[SeedUser]) -> dict[str, int]:
    """Hashes, sorted sets and sets under the store's own key names, in pipelines; `url` is
    any Redis `--store` URL of one server or a cluster (`uiserver/store/redis/address.py`)."""
    import redis
    from redis.cluster import ClusterNode, RedisCluster

    from uiserver.store.redis.address import parse
    from uiserver.store.redis.keys import DEFAULT_PREFIX, Keys

    address = parse(url)
    cluster = address.kind == "cluster"
    names = Keys(DEFAULT_PREFIX, cluster=cluster)  # the store's own key names
    client: Any
    if cluster:  # redis-py's cluster pipeline sends each node the commands of its slots
        nodes = [ClusterNode(h, p) for h, p in address.nodes]  # type: ignore[no-untyped-call]
        client = RedisCluster(startup_nodes=nodes)
    else:
        client = redis.Redis.from_url(address.url)
    counts = {"users": 0, "settings": 0, "affinities": 0, "segments": 0}
    now = time.time()
    try:
        for batch in _batches(users, BATCH):
            pipe = client.pipeline(transaction=False)
            for u in batch:
                fields: dict[Any, Any] = {}
                if u.settings is not None:
                    fields["settings"] = u.settings
                if u.scores:
                    fields.update(
                        evidence=u.evidence, affinity_ts=now - 3_600, last_event=now - 3_600
                    )
                    pipe.zadd(names.aff(u.user_id), u.scores)
                if fields:
                    pipe.hset(
                        names.user(u.user_id), mapping={**fields, "created": now, "updated": now}
                    )
                if u.segments:
                    pipe.sadd(names.seg(u.user_id), *u.segments)
            pipe.execute()
            _count(counts, batch)
    finally:
        client.close()
    return counts


def _count(counts: dict[str, int], batch: list[SeedUser]) -> None:
    counts["users"] += len(batch)
    counts["settings"] += sum(u.settings is not None for u in batch)
    counts["affinities"] += sum(bool(u.scores) for u in batch)
    counts["segments"] += sum(bool(u.segments) for u in batch)


def check_sample(
    store_url: str,
    data_dir: Path,
    count: int,
    seed: int,
    warm: int,
    keys: list[str],
    sample: int = 300,
) -> int:
    """Read `sample` seeded users back through the store's `get_profile`; raise on any
    difference from what was meant to be written. Returns how many were checked."""
    from uiserver.schema import Settings
    from uiserver.store._common import decode_settings
    from uiserver.store.factory import open_store

    step = max(1, count // sample)
    wanted = [u for i, u in enumerate(generate(count, seed, warm, keys)) if i % step == 0]

    async def read() -> list[Any]:
        store = open_store(store_url, data_dir)
        await store.open()
        try:
            return [await store.users.get_profile(u.user_id) for u in wanted]
        finally:
            await store.close()

    for user, profile in zip(wanted, asyncio.run(read()), strict=True):
        settings = Settings() if user.settings is None else decode_settings(user.settings)
        if (
            profile.settings != settings
            or profile.segments != frozenset(user.segments)
            or profile.evidence != user.evidence
            or {k: round(v, 2) for k, v in profile.affinities.items()} != user.scores
        ):
            raise RuntimeError(
                f"bulk seed does not read back as written for {user.user_id}: "
                f"{profile} (the store's format changed?)"
            )
    return len(wanted)


def seed(store_url: str, data_dir: Path, count: int, seed_value: int, warm: int) -> dict[str, Any]:
    """Seed `count` users into SQLite (`store_url` "") or Redis and check a sample."""
    keys = affinity_keys()
    started = time.monotonic()
    users = generate(count, seed_value, warm, keys)
    counts = seed_redis(store_url, users) if store_url else seed_sqlite(data_dir, users)
    elapsed = time.monotonic() - started
    checked = check_sample(store_url, data_dir, count, seed_value, warm, keys)
    return {
        **counts,
        "seconds": round(elapsed, 1),
        "users_per_s": round(count / elapsed),
        "checked_through_store": checked,
        "warm_users_without_data": warm,
    }


class FreshUsers:
    """Seeded users handed out at most once each (tokens never seen by any server), drawn in a
    seeded shuffled order from the non-warm part of the population."""

    def __init__(
        self, count: int, seed_value: int, warm: int, secret: str, ttl: int = 6 * 3600
    ) -> None:
        self.secret = secret
        self.ttl = ttl
        users = list(generate(count, seed_value, warm, affinity_keys()))[warm:]
        random.Random(seed_value + 7).shuffle(users)
        self._users = users
        self._next = 0
        self.minting_s = 0.0

    @property
    def left(self) -> int:
        return len(self._users) - self._next

    def take(self, n: int, page: str = "home") -> list[tuple[str, str, str]]:
        """`n` wrk rows (path, token, ""): users never handed out before, tokens minted now
        with PyJWT (the load generator signs; the server only verifies)."""
        import jwt

        if n > self.left:
            raise RuntimeError(f"only {self.left:,} never-seen users left; seed more")
        chosen = self._users[self._next : self._next + n]
        self._next += n
        started = time.monotonic()
        now = int(time.time())
        rows = [
            (
                f"/v1/layouts/{page}?{u.query}",
                jwt.encode(
                    {"sub": u.user_id, "iat": now, "exp": now + self.ttl},
                    self.secret,
                    algorithm="HS256",
                ),
                "",
            )
            for u in chosen
        ]
        self.minting_s += time.monotonic() - started
        return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--warm", type=int, default=1_000)
    parser.add_argument("--sqlite", type=Path, help="data dir of a fresh SQLite store")
    parser.add_argument(
        "--redis", default="", help="redis:// or redis-cluster:// URL of an empty database"
    )
    args = parser.parse_args(argv)
    if not args.redis and args.sqlite is None:
        parser.error("--sqlite DIR or --redis URL")
    result = seed(args.redis, args.sqlite or Path("."), args.users, args.seed, args.warm)
    print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
