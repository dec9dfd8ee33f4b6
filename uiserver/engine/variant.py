"""Sticky A/B bucketing that survives weight edits.

A user's place in an experiment is a *bucket*: a keyed hash of (experiment, user id) into a fixed
space of `BUCKETS` (10,000) buckets, never Python's `hash()` (salted per process). The bucket does
not depend on the variants, so editing them cannot move it.

`assign` maps a bucket to a variant by weighted rendezvous hashing (highest random weight): every
(bucket, variant name) pair draws a uniform number u, and the bucket goes to the variant with the
largest `ln(u) / weight`. A variant's share of the buckets is its share of the weights, and the
choice depends only on the weights' *ratios* and the variants' names, so an edit moves only the
users it must:

- the same shares written differently (50/50 -> 1/1) or variants reordered: nobody moves;
- growing one variant (50/50 -> 50/60) moves users only *into* it; shrinking one moves users only
  *out of* it; a new variant only takes users, a removed one only gives them away;
- renaming a variant, changing the experiment id, or a new `SCHEME_VERSION` re-buckets.

(Contiguous bucket ranges in variant order give the first two only for two variants: with three,
growing the third shifts the boundary between the first two.) Scheme history: 1 = bucket modulo
the weight sum (any weight edit re-bucketed about half the users); 2 = this.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from hashlib import blake2b

SCHEME_VERSION = 2
BUCKETS = 10_000

_HASH_PERSON = b"v1"  # explore sampling's hash (unchanged by the bucketing scheme)
_SCHEMES = frozenset({2})
_MASK = (1 << 64) - 1


def _digest(key: str, person: bytes) -> int:
    return int.from_bytes(blake2b(key.encode(), digest_size=8, person=person).digest(), "big")


def hash_mod(key: str, modulus: int) -> int:
    """A stable integer in [0, modulus) for `key` (exploration picks)."""
    return _digest(key, _HASH_PERSON) % modulus


def unit_interval(key: str) -> float:
    """A stable float in [0, 1) for `key` (explore sampling)."""
    return _digest(key, _HASH_PERSON) / 2.0**64


def bucket(user_id: str, experiment: str, scheme_version: int = SCHEME_VERSION) -> int:
    """The user's bucket in `experiment`, in [0, BUCKETS); ValueError for an unknown scheme."""
    if scheme_version not in _SCHEMES:
        raise ValueError(f"unknown bucketing scheme {scheme_version}")
    person = f"bucket-v{scheme_version}".encode()
    return _digest(f"{experiment}\x1f{user_id}", person) % BUCKETS


@lru_cache(maxsize=4096)
def variant_seed(name: str) -> int:
    """A variant's 64-bit seed for `assign` (hashed once per name, then remembered)."""
    return _digest(name, f"variant-v{SCHEME_VERSION}".encode())


def _uniform(seed: int, point: int) -> float:
    """splitmix64 of (seed, bucket) as a float in (0, 1): cheap, well mixed, deterministic."""
    z = (seed + (point + 1) * 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    z ^= z >> 31
    return (z + 0.5) / 2.0**64


def assign(point: int, variants: Sequence[tuple[str, int]]) -> str | None:
    """The variant of bucket `point` among (name, weight) pairs; None when no weight is > 0."""
    best: str | None = None
    best_score = -math.inf
    for name, weight in variants:
        if weight <= 0:
            continue
        score = math.log(_uniform(variant_seed(name), point)) / weight
        if score > best_score:
            best, best_score = name, score
    return best


def choose_variant(
    user_id: str, experiment: str | None, variants: Sequence[tuple[str, int]]
) -> str | None:
    """The variant of `user_id`, or None (the base) for anonymous users and no experiment."""
    if not user_id or experiment is None or not variants:
        return None
    return assign(bucket(user_id, experiment), variants)
