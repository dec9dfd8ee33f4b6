"""Sticky A/B bucketing: the same user always lands in the same variant of an experiment.

The bucket is a keyed hash of (experiment, user id), never Python's `hash()` (salted per
process). Versioned by `HASH_VERSION` so a change of scheme is a deliberate re-bucketing.
"""

from __future__ import annotations

from collections.abc import Sequence
from hashlib import blake2b

HASH_VERSION = b"v1"


def bucket(key: str, modulus: int) -> int:
    """A stable integer in [0, modulus) for `key`."""
    digest = blake2b(key.encode(), digest_size=8, person=HASH_VERSION).digest()
    return int.from_bytes(digest, "big") % modulus


def unit_interval(key: str) -> float:
    """A stable float in [0, 1) for `key` (explore sampling)."""
    digest = blake2b(key.encode(), digest_size=8, person=HASH_VERSION).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def choose_variant(
    user_id: str,
    experiment: str | None,
    names: Sequence[str],
    cumulative: Sequence[int],
) -> str | None:
    """The variant of `user_id`, or None (the base) for anonymous users and no experiment.

    `cumulative` holds the running sum of the variant weights, in the order of `names`.
    """
    if not user_id or experiment is None or not names or cumulative[-1] <= 0:
        return None
    point = bucket(f"{experiment}\x1f{user_id}", cumulative[-1])
    for name, upto in zip(names, cumulative, strict=True):
        if point < upto:
            return name
    return names[-1]
