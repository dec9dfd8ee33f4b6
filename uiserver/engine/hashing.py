"""Every stable hash the server keys users by, in one place (no I/O).

A user's experiment bucket, rollout bucket, erasure bucket, the identity of an exposure in a
distinct-count sketch and the explore sampling all come from here, so the same user lands in the
same place in every process, on every replica and after every restart. Never Python's `hash()`:
it is salted per process. Each hash has its own blake2b personalization (or key prefix), so no
two purposes share a value; changing any of them re-buckets users, so each says its version.

- `bucket(user, experiment)`: 0..BUCKETS-1, scheme `SCHEME_VERSION`: A/B variants
  (`engine.variant`); `allocation_seed` and `rendezvous`: the integer scores by which an
  experiment's bucket allocation is made and edited (`engine.allocation`);
- `rollout_bucket(page, user)`: 0..BUCKETS-1: staged rollouts (`serving.pages`);
- `erasure_bucket(user)`: 0..ERASURE_BUCKETS-1: erasure epochs (`store.base`);
- `exposure_id(experiment, user)`: what Redis' HyperLogLog sees (no user id in Redis' sketches);
- `sketch_hash(item)`: the SQLite HyperLogLog registers (`store.sqlite.sketch`);
- `hash_mod`, `unit_interval`: exploration picks and sampling (`engine.proposals`);
- `event_digest(event id)`: what the stores remember of an event id (`store.event_ids`).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from hashlib import blake2b

SCHEME_VERSION = 3  # experiment bucketing scheme (history in `engine.variant`)
BUCKETS = 10_000  # experiment and rollout buckets: a share is exact to 0.01%
ERASURE_BUCKETS = 4096

_EXPLORE_PERSON = b"v1"  # explore sampling's hash (unchanged by the bucketing scheme)
_SCHEMES = frozenset({SCHEME_VERSION})
_MASK = (1 << 64) - 1


def _digest(key: str, person: bytes) -> int:
    return int.from_bytes(blake2b(key.encode(), digest_size=8, person=person).digest(), "big")


def hash_mod(key: str, modulus: int) -> int:
    """A stable integer in [0, modulus) for `key` (exploration picks)."""
    return _digest(key, _EXPLORE_PERSON) % modulus


def unit_interval(key: str) -> float:
    """A stable float in [0, 1) for `key` (explore sampling)."""
    return _digest(key, _EXPLORE_PERSON) / 2.0**64


def bucket(user_id: str, experiment: str, scheme_version: int = SCHEME_VERSION) -> int:
    """The user's bucket in `experiment`, in [0, BUCKETS); ValueError for an unknown scheme."""
    if scheme_version not in _SCHEMES:
        raise ValueError(f"unknown bucketing scheme {scheme_version}")
    person = f"bucket-v{scheme_version}".encode()
    return _digest(f"{experiment}\x1f{user_id}", person) % BUCKETS


@lru_cache(maxsize=4096)
def allocation_seed(experiment: str, name: str) -> int:
    """The 64-bit seed of variant `name` in `experiment` for rendezvous scores (remembered)."""
    return _digest(f"{experiment}\x1f{name}", f"alloc-v{SCHEME_VERSION}".encode())


def rendezvous(seed: int, point: int) -> int:
    """splitmix64 of (seed, bucket): a well-mixed 64-bit integer score, the same on every
    platform (integers only, no floating point, so every replica ranks buckets alike)."""
    z = (seed + (point + 1) * 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def rendezvous_all(seed: int, points: Iterable[int]) -> list[int]:
    """`rendezvous(seed, p)` for every p, inlined (an allocation scores 10,000 buckets per
    variant)."""
    out = []
    for point in points:
        z = (seed + (point + 1) * 0x9E3779B97F4A7C15) & _MASK
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        out.append(z ^ (z >> 31))
    return out


def rollout_bucket(page: str, user_id: str) -> int:
    """The user's sticky bucket for the page's staged rollouts, in [0, BUCKETS): blake2b of
    the page and the user id, so a user keeps the same version while a rollout widens (a
    bucket under 10% is under 50% too)."""
    digest = blake2b(f"{page}\x1f{user_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def erasure_bucket(user_id: str) -> int:
    """The user's erasure bucket, in [0, ERASURE_BUCKETS)."""
    digest = blake2b(user_id.encode(), digest_size=8, person=b"uiserver-erase").digest()
    return int.from_bytes(digest, "big") % ERASURE_BUCKETS


def exposure_id(experiment: str, user_id: str) -> str:
    """What a Redis HyperLogLog sees of an exposure: no user id reaches the experiment keys."""
    return blake2b(f"{experiment}\x1f{user_id}".encode(), digest_size=12).hexdigest()


def sketch_hash(item: str) -> int:
    """The 64-bit hash of an item added to the SQLite HyperLogLog (`store.sqlite.sketch`)."""
    return int.from_bytes(blake2b(item.encode(), digest_size=8, person=b"hll-v1").digest(), "big")


def event_digest(event_id: str) -> bytes:
    """The 8 bytes the stores keep of a client's event id (per user, to ignore a resent
    event): fixed-size whatever the id's length, and not the id itself. Two ids of one user
    share a digest with probability ~n^2 / 2^65 (1,000 ids: ~3e-14)."""
    return blake2b(event_id.encode(), digest_size=8, person=b"uiserver-evid").digest()
